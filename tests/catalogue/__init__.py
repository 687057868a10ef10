"""The reliability catalogue (issue 13): bad inputs, hostile model files and
fault injections, each tried as a user would, and classified.

``python -m tests.catalogue`` prints the raw counts; the pytest module
``test_catalogue.py`` asserts every case passes, except those in
``KNOWN_FAILING``, which are strict xfails: fixing one turns it into an XPASS that
fails the run until its id is removed here.
"""

# Every case passes since issue 13's fixes; a case added for a behaviour not yet
# fixed goes here with its outcome, until the fix lands.
KNOWN_FAILING: dict[str, str] = {}
