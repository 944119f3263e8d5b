"""Call recordings on disk (:mod:`acd.features.recordings.files`)."""

from acd.features.recordings.files import RecordingTracker, purge_expired, purge_periodically, recording_path, wav_duration_s

__all__ = ["RecordingTracker", "purge_expired", "purge_periodically", "recording_path", "wav_duration_s"]
