"""Call recordings on disk (:mod:`acd.features.recordings.files`), stored and compressed
(:mod:`~acd.features.recordings.storage`), listed (:mod:`~acd.features.recordings.catalog`),
exported and erased at the end of the contract (:mod:`~acd.features.recordings.archive`)."""

from acd.features.recordings.files import RecordingTracker, purge_expired, purge_periodically, recording_path, wav_duration_s

__all__ = ["RecordingTracker", "purge_expired", "purge_periodically", "recording_path", "wav_duration_s"]
