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
    # Held-out cases whose expectation was not adopted: documented behaviour instead.
    "ho-forecaster-param-trainer_kwargs={'max_epochs': 3}":
        "documented: trainer_kwargs win over the Trainer arguments tsrnn sets (the "
        "escape hatch; see the Forecaster docstring)",
    'ho-fit-boolean-target':
        "documented: a boolean column is numeric, read as 0/1 (SeriesData)",
}
