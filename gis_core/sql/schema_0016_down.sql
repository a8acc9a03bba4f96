DROP TABLE scheduled_run;
