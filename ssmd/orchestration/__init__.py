"""Trading-day orchestration on Temporal: workflows, activities, schedules and the worker.

The workflows drive the same step functions as the local scheduler (``ssmd.day.steps``),
one activity per step, and record every transition through ``ssmd.day.store`` so that
``ssmd day status|history`` read the same state whichever orchestrator ran the day.

May import: ssmd.day, ssmd.config, ssmd.middleware, ssmd.metrics, ssmd.ops, temporalio.
"""
