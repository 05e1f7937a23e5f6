"""Small orchestration the pages need where no domain service exists yet (store + audit)."""
