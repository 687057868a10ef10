"""The reliability catalogue (issue 13): bad inputs, hostile model files and
fault injections, each tried as a user would, and classified.

``python -m tests.catalogue`` prints the raw counts; the pytest module
``test_catalogue.py`` asserts every case passes, except those in
``KNOWN_FAILING``, which are strict xfails: fixing one turns it into an XPASS that
fails the run until its id is removed here.
"""

# Every case passes since issue 13's fixes; a case added for a behaviour not yet
# fixed goes here with its outcome, until the fix lands. The ``ho-`` cases are the
# held-out ones (held_out.py) that the fixes were not made against.
KNOWN_FAILING: dict[str, str] = {
    "ho-forecaster-param-quantiles='0.9'":
        "unclear: ValueError: could not convert string to float: '.' (quantiles not named)",
    'ho-forecaster-param-val_size=1000000':
        'unclear: DataError: series 0 has 80 rows: too few for train/val/test sizes '
        '-999920/1000000/0 (val_size not named)',
    "ho-forecaster-param-trainer_kwargs={'callbacks': 'x'}":
        "unclear: AttributeError: 'str' object has no attribute 'on_exception'",
    "ho-forecaster-param-trainer_kwargs={'max_epochs': 3}":
        'silent: trainer_kwargs max_epochs silently overrides the max_epochs parameter',
    "ho-detector-param-contamination='1%'":
        "unclear: TypeError: '<' not supported between instances of 'float' and 'str'",
    'ho-detector-param-likelihood_window=100':
        'silent: likelihood_window=100 above likelihood_history=10 accepted',
    'ho-fit-boolean-target':
        'silent: a bool target column is fitted as numbers',
    'ho-fit-time-strings-mixed-formats':
        'unclear: DataError: timestamps are not sorted (day-first strings misread as '
        'month-first; ts not named)',
    'ho-stream-list-of-timestamps':
        'unclear: ValueError: The truth value of an array with more than one element is ambiguous',
    'ho-stream-class-on-unfitted-detector':
        "unclear: AttributeError: 'AnomalyDetector' object has no attribute 'ids_'",
    'ho-stream-aware-timestamps-for-naive-detector':
        'silent: tz-aware timestamps accepted by a detector fitted on naive times',
    'ho-stream-naive-timestamps-for-aware-detector':
        'silent: naive timestamps accepted by a detector fitted on tz-aware times',
    'ho-cli-forecast-set-unclosed-list':
        "unclear: error blames sensors.csv: could not convert string to float: '['",
    'ho-cli-train-out-missing-folder':
        "unclear: 'folder .../no for the model file does not exist' does not name --out",
    'ho-cli-train-config-data-path-number':
        "unclear: TypeError: unsupported operand type(s) for /: 'PosixPath' and 'int' "
        "(--debug shows the traceback)",
    'ho-cli-stream-only-bom':
        "unclear: 'the header line lacks column(s) ...; it has []' does not say the input is empty",
    'ho-resummed-unknown-top-level-key[load]':
        'unsafe: loads a file with an unknown top-level key',
    'ho-resummed-unknown-top-level-key[read_model]':
        'unsafe: loads a file with an unknown top-level key',
    'ho-resummed-unknown-fitted-key[load]':
        'unsafe: loads a file with an unknown fitted-state key',
    'ho-resummed-unknown-fitted-key[read_model]':
        'unsafe: loads a file with an unknown fitted-state key',
    'ho-resummed-float64-weight[load]':
        'unsafe: loads a float64 weight tensor without a word',
    'ho-resummed-float64-weight[read_model]':
        'unsafe: loads a float64 weight tensor without a word',
    'ho-detector-resummed-window-1e12-streamed[dload]':
        'unsafe: window=10**12 loads; its stream is still building after 3 s',
    'ho-fifo-as-model-file[read_model]':
        'unsafe: read_model on a FIFO blocks (still loading after 30 s)',
}
