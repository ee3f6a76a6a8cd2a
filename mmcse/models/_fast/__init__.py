"""The models' speed machinery (private). Every speed switch and environment variable is read in
:mod:`.config`; :mod:`.allocator` tunes glibc's malloc for the process (:func:`apply_process_tuning`)."""

from mmcse.models._fast.allocator import apply_process_tuning

__all__ = ["apply_process_tuning"]
