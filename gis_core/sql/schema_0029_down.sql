DROP TRIGGER queue_webhooks ON incident_event;
DROP FUNCTION queue_webhook_deliveries();
DROP TABLE webhook_delivery;
DROP TABLE webhook_subscription;
DROP TABLE hotline_case;
