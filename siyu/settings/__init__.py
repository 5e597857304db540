from siyu.settings.base import *  # noqa: F403
