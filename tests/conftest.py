"""Settings for the whole suite."""

from hypothesis import settings

# Property tests check behaviour, not speed: Hypothesis's default 200 ms deadline per example
# failed now and then on a loaded 2-core CI machine (a timing test in disguise).
settings.register_profile("suite", deadline=None)
settings.load_profile("suite")
