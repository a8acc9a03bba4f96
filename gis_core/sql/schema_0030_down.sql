DROP TABLE rate_window;
