"""Hypothesis settings, strategies and loops shared by the anomaly-metric tests
(test_point.py, test_ranges.py, test_vus.py, test_nab.py, test_common.py)."""

import numpy as np
from hypothesis import assume, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

FAST = settings(max_examples=50, deadline=None)
RTOL = 1e-12


@st.composite
def labelled_scores(draw, min_size=2, max_size=60, ties=True):
    """(labels, scores) with at least one anomaly and one normal step."""
    n = draw(st.integers(min_size, max_size))
    labels = draw(arrays(np.int64, n, elements=st.integers(0, 1)))
    assume(0 < labels.sum() < n)
    values = st.integers(0, 6).map(float) if ties and draw(st.booleans()) else st.floats(-5, 5)
    scores = draw(arrays(np.float64, n, elements=values))
    return labels, scores


def _ranges(mask):
    """[(first, last)] of each run of 1s, by a plain loop."""
    out, start = [], None
    for i, v in enumerate(list(mask) + [0]):
        if v and start is None:
            start = i
        elif not v and start is not None:
            out.append((start, i - 1))
            start = None
    return out
