"""Nightly crawls: the APScheduler schedule (schedule.py), the job it runs (jobs.py) and the
per-site lock that keeps one crawl of a site at a time, across processes (locks.py).

The entry points are thin: ``scheduler.py`` at the project root and ``archive schedule``.
"""
