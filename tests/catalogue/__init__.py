"""The reliability catalogue (issue 13): bad inputs, hostile model files and
fault injections, each tried as a user would, and classified.

``python -m tests.catalogue`` prints the raw counts; the pytest module
``test_catalogue.py`` asserts every case passes, except those in
``KNOWN_FAILING``, which are strict xfails: fixing one turns it into an XPASS that
fails the run until its id is removed here.
"""

KNOWN_FAILING: dict[str, str] = {
    'forecaster-param-lr=-1':
        'unclear: ValueError: Invalid learning rate: -1 (raised in torch/optim/adam.py)',
    "forecaster-param-lr='fast'":
        "unclear: TypeError: '<=' not supported between instances of 'float' and 'str' (rais...",
    'forecaster-param-lr=0':
        'silent: no error: returned Forecaster',
    'forecaster-param-gradient_clip=-1.0':
        'silent: no error: returned Forecaster',
    'forecaster-param-patience=-1':
        'silent: no error: returned Forecaster',
    "forecaster-param-precision='bogus'":
        "unclear: ValueError: Precision 'bogus' is invalid. Allowed precision values: ('tran...",
    "forecaster-param-random_state='abc'":
        "unclear: does not name 'random_state': ValueError: invalid literal for int() with b...",
    "forecaster-param-bidirectional='no'":
        'silent: no error: returned Forecaster',
    "forecaster-param-channel_independent='yes'":
        'silent: no error: returned Forecaster',
    'forecaster-param-devices=0':
        'unclear: MisconfigurationException: `Trainer(devices=0)` value is not a valid input...',
    "forecaster-param-devices='many'":
        'unclear: TypeError: `devices` selected with `CPUAccelerator` should be an int > 0. ...',
    "forecaster-param-trainer_kwargs={'max_epoch': 3}":
        "unclear: TypeError: Trainer.__init__() got an unexpected keyword argument 'max_epoc...",
    "forecaster-param-trainer_kwargs='x'":
        "unclear: does not name 'trainer_kwargs': ValueError: dictionary update sequence ele...",
    "forecaster-param-accelerator='gpu'":
        'unclear: MisconfigurationException: No supported gpu backend found! (a Misconfigura...',
    "forecaster-param-accelerator='quantum'":
        "unclear: ValueError: You selected an invalid accelerator name: `accelerator='quantu...",
    'detector-param-lr=-1':
        'unclear: ValueError: Invalid learning rate: -1 (raised in torch/optim/adam.py)',
    'detector-param-patience=-1':
        'silent: no error: returned AnomalyDetector',
    'detector-param-gradient_clip=-1.0':
        'silent: no error: returned AnomalyDetector',
    "detector-param-trainer_kwargs={'max_epoch': 3}":
        "unclear: TypeError: Trainer.__init__() got an unexpected keyword argument 'max_epoc...",
    'classifier-param-lr=-1':
        'unclear: ValueError: Invalid learning rate: -1 (raised in torch/optim/adam.py)',
    'fit-multiindex-columns':
        'silent: no error: returned Forecaster',
    'fit-beyond-float32':
        "unclear: does not name 'float32': DataError: column 'y' is infinite (inf) at row 40...",
    'fit-huge-int64-daily':
        'silent: no error: returned Forecaster',
    'fit-future-covariate-is-target':
        "unclear: does not name 'y': DataError: no target column left: pass target=",
    'predict-tz-naive-after-tz-aware-fit':
        'silent: no error: returned DataFrame',
    'score-tz-naive-after-tz-aware-fit':
        'silent: no error: returned Series',
    'predict-integer-times-for-datetime-model':
        "unclear: does not name 'time' or 'datetime' or 'index': TypeError: int() argument m...",
    'save-to-missing-folder':
        "unclear: FileNotFoundError: [Errno 2] No such file or directory: '.m.tsrnn.5ovu_l9p...",
    'load-missing-file':
        "unclear: FileNotFoundError: [Errno 2] No such file or directory: 'missing.tsrnn' (r...",
    'stream-value-abc':
        "unclear: does not name 'value' or 'number': ValueError: could not convert string to...",
    'stream-timestamp-not-a-date':
        'unclear: DateParseError: Unknown datetime string format, unable to parse: not a dat...',
    'stream-integer-epoch-fresh':
        'silent: no error: returned StreamResult',
    'stream-duplicate-series-in-one-call':
        'silent: no error: returned StreamResult',
    'stream-none-timestamp':
        'silent: no error: returned StreamResult',
    'stream-series-as-string':
        "unclear: does not name 'series': ValueError: expected values of shape [2, 1] (['val...",
    'cli-forecast-model-is-folder':
        "unclear: does not name 'folder' or 'directory': tsrnn forecast: error: model file c...",
    'cli-forecast-set-trainer-kwargs-typo':
        'unclear: an unexpected error: tsrnn forecast: error: TypeError: Trainer.__init__() ...',
    'cli-forecast-set-accelerator-gpu':
        'unclear: an unexpected error: tsrnn forecast: error: MisconfigurationException: No ...',
    'cli-forecast-duplicate-OT-columns':
        "silent: exit 0; stderr: ''",
    'cli-forecast-semicolon-csv':
        "silent: check failed: tsrnn forecast: error: d.csv: column 'timestamp' is not in th...",
    'cli-forecast-tab-csv':
        "silent: check failed: tsrnn forecast: error: d.csv: column 'timestamp' is not in th...",
    'cli-forecast-out-fifo':
        'silent: check failed: the FIFO was replaced by a file',
    'cli-forecast-out-symlink':
        'silent: check failed: the symlink was replaced by a file',
    'cli-forecast-out-unwritable-folder':
        "unclear: does not name '--out': tsrnn forecast: error: [Errno 13] Permission denied...",
    'cli-detect-nab-one-missing-step':
        'silent: check failed: ct: error: nab.csv: irregular timestamps: a gap from 2024-01-...',
    'cli-detect-label-col-label-not-overwritten':
        "silent: check failed: the input label column was overwritten: columns ['timestamp',...",
    'cli-evaluate-label-col-empty':
        "unclear: does not name 'is_anomaly': tsrnn evaluate: error: lab.csv: cannot convert...",
    'cli-evaluate-label-col-yes-no':
        "unclear: does not name 'is_anomaly': tsrnn evaluate: error: lab.csv: invalid litera...",
    'cli-evaluate-label-col-2s':
        "unclear: does not name 'is_anomaly': tsrnn evaluate: error: lab.csv: labels must ho...",
    'cli-evaluate-start-not-a-date':
        "unclear: does not name 'start': tsrnn evaluate: error: sensors.csv: Unknown datetim...",
    'cli-stream-200kb-field':
        'silent: check failed: 3 lines scored, expected 6',
    'cli-stream-too-many-fields':
        'silent: check failed: exit 0: a bad line should make it 1',
    'cli-stream-invalid-utf8-byte':
        'silent: check failed: -1 lines scored, expected 6',
    'empty-file[load]':
        'unclear: EOFError: (a EOFError)',
    'truncated-at-0.01[load]':
        'unclear: RuntimeError: PytorchStreamReader failed reading zip archive: failed findi...',
    'truncated-at-0.1[load]':
        'unclear: RuntimeError: PytorchStreamReader failed reading zip archive: failed findi...',
    'truncated-at-0.5[load]':
        'unclear: RuntimeError: PytorchStreamReader failed reading zip archive: failed findi...',
    'truncated-at-0.9[load]':
        'unclear: OSError: [Errno 22] Invalid argument (a OSError)',
    'truncated-at-0.999[load]':
        'unclear: OSError: [Errno 22] Invalid argument (a OSError)',
    'random-bytes[load]':
        'unclear: UnpicklingError: Weights only load failed. In PyTorch 2.6, we changed the ...',
    'csv-renamed[load]':
        'unclear: IndexError: pop from empty list (a IndexError)',
    'zip-not-torch[load]':
        'unclear: RuntimeError: [enforce fail at inline_container.cc:180] . file in archive ...',
    'missing-format_version[load]':
        "unclear: KeyError: 'format_version' (a KeyError)",
    'missing-format_version[read_model]':
        "unclear: KeyError: 'format_version' (a KeyError)",
    'missing-estimator[load]':
        "unclear: KeyError: 'estimator' (a KeyError)",
    'missing-params[load]':
        "unclear: KeyError: 'params' (a KeyError)",
    'missing-params[read_model]':
        "unclear: KeyError: 'params' (a KeyError)",
    'missing-state_dict[load]':
        "unclear: KeyError: 'state_dict' (a KeyError)",
    'missing-state_dict[read_model]':
        "unclear: KeyError: 'state_dict' (a KeyError)",
    'missing-fitted[load]':
        "unclear: KeyError: 'fitted' (a KeyError)",
    'missing-fitted[read_model]':
        "unclear: KeyError: 'fitted' (a KeyError)",
    'missing-versions[load]':
        "unclear: KeyError: 'versions' (a KeyError)",
    'missing-versions[read_model]':
        "unclear: KeyError: 'versions' (a KeyError)",
    "format_version-is-'1'[load]":
        "unclear: does not name 'given.tsrnn': TypeError: '>' not supported between instance...",
    "format_version-is-'1'[read_model]":
        "unclear: does not name 'given.tsrnn': TypeError: '>' not supported between instance...",
    'params-is-[][load]':
        "unclear: does not name 'given.tsrnn': TypeError: tsrnn.forecaster.Forecaster() argu...",
    'params-is-[][read_model]':
        "unclear: does not name 'given.tsrnn': TypeError: tsrnn.forecaster.Forecaster() argu...",
    "params-is-'cell=gru'[load]":
        "unclear: does not name 'given.tsrnn': TypeError: tsrnn.forecaster.Forecaster() argu...",
    "params-is-'cell=gru'[read_model]":
        "unclear: does not name 'given.tsrnn': TypeError: tsrnn.forecaster.Forecaster() argu...",
    'state_dict-is-[][load]':
        "unclear: TypeError: Expected state_dict to be dict-like, got <class 'list'>. (raise...",
    'state_dict-is-[][read_model]':
        "unclear: TypeError: Expected state_dict to be dict-like, got <class 'list'>. (raise...",
    'state_dict-is-{}[load]':
        'unclear: RuntimeError: Error(s) in loading state_dict for ForecastNet: (a RuntimeEr...',
    'state_dict-is-{}[read_model]':
        'unclear: RuntimeError: Error(s) in loading state_dict for ForecastNet: (a RuntimeEr...',
    'fitted-is-[][load]':
        "unclear: does not name 'given.tsrnn': TypeError: list indices must be integers or s...",
    'fitted-is-[][read_model]':
        "unclear: does not name 'given.tsrnn': TypeError: list indices must be integers or s...",
    'fitted-is-{}[load]':
        "unclear: KeyError: 'net_shape' (a KeyError)",
    'fitted-is-{}[read_model]':
        "unclear: KeyError: 'net_shape' (a KeyError)",
    'versions-is-None[load]':
        'unsafe: no error: returned Forecaster',
    'versions-is-None[read_model]':
        'unsafe: no error: returned Forecaster',
    'params-unknown-name[load]':
        "unclear: does not name 'given.tsrnn': TypeError: Forecaster.__init__() got an unexp...",
    'params-unknown-name[read_model]':
        "unclear: does not name 'given.tsrnn': TypeError: Forecaster.__init__() got an unexp...",
    'params-hidden-size-text[load]':
        "unclear: TypeError: empty(): argument 'size' (position 1) must be tuple of ints, bu...",
    'params-hidden-size-text[read_model]':
        "unclear: TypeError: empty(): argument 'size' (position 1) must be tuple of ints, bu...",
    'params-cell-foo[load]':
        "unclear: does not name 'given.tsrnn': ValueError: cell must be one of ('rnn', 'lstm...",
    'params-cell-foo[read_model]':
        "unclear: does not name 'given.tsrnn': ValueError: cell must be one of ('rnn', 'lstm...",
    'state-dict-missing-weight[load]':
        'unclear: RuntimeError: Error(s) in loading state_dict for ForecastNet: (a RuntimeEr...',
    'state-dict-missing-weight[read_model]':
        'unclear: RuntimeError: Error(s) in loading state_dict for ForecastNet: (a RuntimeEr...',
    'state-dict-wrong-shape[load]':
        'unclear: RuntimeError: Error(s) in loading state_dict for ForecastNet: (a RuntimeEr...',
    'state-dict-wrong-shape[read_model]':
        'unclear: RuntimeError: Error(s) in loading state_dict for ForecastNet: (a RuntimeEr...',
    'state-dict-text-value[load]':
        'unclear: RuntimeError: Error(s) in loading state_dict for ForecastNet: (a RuntimeEr...',
    'state-dict-text-value[read_model]':
        'unclear: RuntimeError: Error(s) in loading state_dict for ForecastNet: (a RuntimeEr...',
    'state-dict-extra-weight[load]':
        'unclear: RuntimeError: Error(s) in loading state_dict for ForecastNet: (a RuntimeEr...',
    'state-dict-extra-weight[read_model]':
        'unclear: RuntimeError: Error(s) in loading state_dict for ForecastNet: (a RuntimeEr...',
    'nan-weights[load]':
        'unsafe: no error: returned Forecaster',
    'nan-weights[read_model]':
        'unsafe: no error: returned Forecaster',
    'zero-scaler-spread[load]':
        'unsafe: no error: returned Forecaster',
    'zero-scaler-spread[read_model]':
        'unsafe: no error: returned Forecaster',
    'nan-scaler-loc[load]':
        'unsafe: no error: returned Forecaster',
    'nan-scaler-loc[read_model]':
        'unsafe: no error: returned Forecaster',
    'fitted-missing-roles[load]':
        "unclear: KeyError: 'roles' (a KeyError)",
    'fitted-missing-roles[read_model]':
        "unclear: KeyError: 'roles' (a KeyError)",
    'fitted-freq-garbage[load]':
        'unclear: ValueError: Invalid frequency: every tuesday. Failed to parse with error m...',
    'fitted-freq-garbage[read_model]':
        'unclear: ValueError: Invalid frequency: every tuesday. Failed to parse with error m...',
    'fitted-context-wrong-shape[load]':
        'unsafe: no error: returned Forecaster',
    'fitted-context-wrong-shape[read_model]':
        'unsafe: no error: returned Forecaster',
    '64-bytes-overwritten-at-0.25[load]':
        'unclear: UnpicklingError: Weights only load failed. In PyTorch 2.6, we changed the ...',
    '64-bytes-overwritten-at-0.5[load]':
        'unsafe: no error: returned Forecaster',
    '64-bytes-overwritten-at-0.5[read_model]':
        'unsafe: no error: returned Forecaster',
    '64-bytes-overwritten-at-0.75[load]':
        'unsafe: no error: returned Forecaster',
    '64-bytes-overwritten-at-0.75[read_model]':
        'unsafe: no error: returned Forecaster',
    '64-bytes-overwritten-at-0.95[load]':
        'unclear: RuntimeError: PytorchStreamReader failed reading zip archive: invalid head...',
    'pickled-code-in-params[load]':
        'unclear: UnpicklingError: Weights only load failed. This file can still be loaded, ...',
    'pickled-code-as-payload[load]':
        'unclear: UnpicklingError: Weights only load failed. This file can still be loaded, ...',
    'pickled-code-forced-no-weights-only[load]':
        'unclear: UnpicklingError: Weights only load failed. This file can still be loaded, ...',
    'tiny-file-hidden_size=60000[load]':
        'unsafe: no error: returned str',
    'tiny-file-hidden_size=60000[read_model]':
        'unsafe: no error: returned str',
    'tiny-file-num_layers=100000[load]':
        'unsafe: no error: returned str',
    'tiny-file-num_layers=100000[read_model]':
        'unsafe: no error: returned str',
    'tiny-file-input_len=1000000000000[load]':
        'unclear: RuntimeError: Error(s) in loading state_dict for ForecastNet: (a RuntimeEr...',
    'tiny-file-input_len=1000000000000[read_model]':
        'unclear: RuntimeError: Error(s) in loading state_dict for ForecastNet: (a RuntimeEr...',
    'resume-last-ckpt-with-code[cli]':
        'unclear: an unexpected error: tsrnn train: error: UnpicklingError: Weights only loa...',
    'resume-last-ckpt-with-code-forced[cli]':
        'unsafe: no error: returned str',
    'resume-last-ckpt-garbage[cli]':
        'unclear: an unexpected error: tsrnn train: error: UnpicklingError: Weights only loa...',
    'resume-last-ckpt-plain-tensor[cli]':
        'unclear: an unexpected error: tsrnn train: error: IndexError: too many indices for ...',
    'ctrl-c-during-api-fit':
        'lost: check failed: Ctrl+C in fit() raised SystemExit(1)',
    'stale-temp-from-killed-out-cleaned-next-run':
        "lost: check failed: stale temporary files kept: ['.out.csv.l0zecb3g.tmp']",
    'stale-temp-from-killed-save-cleaned-next-save':
        "lost: check failed: stale temporary files kept: ['.m.tsrnn.l16sin6p.tmp']",
    'stream-bom-header':
        'lost: check failed: -1 lines scored, expected 6: tsrnn stream: error: the header li...',
    'stream-unterminated-quote':
        'lost: check failed: 3 lines scored, expected 6: tsrnn stream: line 5 skipped: colum...',
    'resume-reproduces-the-uninterrupted-run':
        'lost: check failed: best val loss 0.24438197910785675 after resuming, 0.24427857995...',
}
