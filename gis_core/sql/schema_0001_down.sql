DROP TABLE IF EXISTS demo_manifest, warning, incident_photo, incident_event, incident, road, road_vertex,
    track_point, worker_grid, worker, key_point, cold_chain_camera, cold_chain_site, camera,
    service_center, party_org, person, building, api_token, app_user, category, department,
    anchored_table, boundary_revision, grid, community, street, district CASCADE;
DROP FUNCTION IF EXISTS ensure_track_partitions, forbid_change, grid_changed, reanchor,
    anchor_to_grid, grid_of, bump_boundary_revision;
