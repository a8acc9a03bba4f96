"""What every capability stands on.

Settings, the database and its embedded cluster, time, errors, accounts and who may see what,
the notify channel and the live feed, backups and scheduled jobs.
"""
