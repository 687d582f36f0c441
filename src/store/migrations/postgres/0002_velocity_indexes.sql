-- txv schema, version 2 (PostgreSQL only): indexes for counting velocity from
-- PostgreSQL (the fallback when the counter cache is unavailable): the
-- decisions of one key's value in a window of decided_at. Partial where the
-- key is optional, so decisions without it cost nothing. Emails are compared
-- lower-cased, ASCII only (customer_email is COLLATE "C", under which lower()
-- folds only A-Z), as the velocity counters key them.
CREATE INDEX transactions_velocity_card ON transactions (card_fingerprint, decided_at);
CREATE INDEX transactions_velocity_customer ON transactions (customer_id, decided_at)
  WHERE customer_id IS NOT NULL;
CREATE INDEX transactions_velocity_email ON transactions (lower(customer_email), decided_at)
  WHERE customer_email IS NOT NULL;
CREATE INDEX transactions_velocity_ip ON transactions (customer_ip, decided_at)
  WHERE customer_ip IS NOT NULL;
CREATE INDEX transactions_velocity_device ON transactions (customer_device_id, decided_at)
  WHERE customer_device_id IS NOT NULL;
CREATE INDEX transactions_velocity_merchant ON transactions (merchant_id, decided_at);
