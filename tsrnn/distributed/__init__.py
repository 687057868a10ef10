"""Work beyond one process, over engines that exist: Ray fans series, files and
sensor streams out over cores and machines, and runs hyperparameter searches (Ray
Tune; Optuna in one process when Ray is absent).

Ray is an optional extra (``pip install 'tsrnn[ray]'``), imported only when a
function here runs on it; every function also runs in this process, with the same
results, without it. The estimators never import this package.
"""

from tsrnn.distributed.fleet import FailedItemsError, MapResult, map_series
from tsrnn.distributed.streams import PartitionedStream, partition_of
from tsrnn.distributed.tuning import TuneResult, tune

__all__ = ["FailedItemsError", "MapResult", "PartitionedStream", "TuneResult", "map_series",
           "partition_of", "tune"]
