"""Event delivery: the sequenced event log, subscriber filters, queues and batching."""
