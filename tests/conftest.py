import os

os.environ.setdefault("MPLBACKEND", "Agg")

import pytest
import torch

from rnnlab.training.data import data_root

# Several test processes may share 2 cores; RNNLAB_THREADS caps torch's threads.
if os.environ.get("RNNLAB_THREADS"):
    torch.set_num_threads(int(os.environ["RNNLAB_THREADS"]))


@pytest.fixture(scope="session")
def shared_data():
    """The real data folder, or a skip saying why it is needed."""
    root = data_root()
    if not root.is_dir():
        pytest.skip(f"real data not found at {root} (set RNNLAB_DATA or provide ../shared/data)")
    return root


@pytest.fixture
def one_thread():
    """Torch on one thread for this test, restored afterwards (nothing leaks to others)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
