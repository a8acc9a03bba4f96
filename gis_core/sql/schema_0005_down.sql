DROP TRIGGER IF EXISTS point_call_arrivals ON track_point;
DROP FUNCTION IF EXISTS point_call_arrivals();
DELETE FROM anchored_table WHERE name = 'point_call'::regclass;
DROP TABLE IF EXISTS point_call_task, point_call;
