"""Getting messages out: webhook signing (and, with the clean-up, the one due-queue
worker and mail). Imports domain, policy, config, store."""
