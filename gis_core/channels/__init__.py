"""Every channel into the loop besides the phones: hotline intake, and outbound webhooks to other systems."""
