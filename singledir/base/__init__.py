"""The ground floor: the on-disk result cache with code versions and source hashes (``cache``) and
progress notes and timing (``progress``)."""
