"""Tests of Choreo past one machine: the bot and Celery workers as separate processes."""
