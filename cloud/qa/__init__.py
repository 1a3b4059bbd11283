"""Capture QA: is a just-uploaded capture worth a fine-tune? Scored from its keypoints
and JPEGs in well under a second, before any worker spends minutes on it.

- :mod:`cloud.qa.poses`: pose coverage of the reference dance, visibility, motion;
- :mod:`cloud.qa.images`: blur and exposure of a sample of the JPEGs;
- :mod:`cloud.qa.report`: the thresholds, the combined :class:`~cloud.qa.report.QaReport`
  and its reasons;
- :mod:`cloud.qa.session`: a stored session read back and scored.
"""
