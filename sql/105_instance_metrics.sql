-- Per-instance performance history for graphs (GET /api/v1/instances/{id}/metrics), at three
-- resolutions, each kept only as long as a graph needs it:
--   instance_metrics_raw  every agent sample (metrics.interval_seconds, 10 s by default), 1 hour
--   instance_metrics_1m   one-minute averages, 24 hours
--   instance_metrics_10m  ten-minute averages, 7 days
-- The leader rolls raw samples up into minutes and minutes into ten minutes, then prunes each
-- table (sparkle/metrics/instance_metrics_rollup.cpp). A sample is one row of one INSERT per
-- metrics batch, whatever the number of instances on the host.
--
-- No foreign key to instances: it would cost a lookup per row on the hot insert path and would
-- keep a purged instance's row from going; a purged instance's history ages out with retention.
CREATE TABLE instance_metrics_raw (
  instance_id    uuid NOT NULL,
  at             timestamptz NOT NULL,
  cpu_pct        real NOT NULL,  -- of the instance's own vCPUs, 0-100
  mem_mib        bigint NOT NULL,
  disk_read_bps  bigint NOT NULL,
  disk_write_bps bigint NOT NULL,
  net_rx_bps     bigint NOT NULL,
  net_tx_bps     bigint NOT NULL,
  PRIMARY KEY (instance_id, at)
);
CREATE INDEX instance_metrics_raw_at ON instance_metrics_raw (at);

-- Averages of the samples in [at, at + bucket); `samples` weighs them when they are averaged again.
CREATE TABLE instance_metrics_1m (
  instance_id    uuid NOT NULL,
  at             timestamptz NOT NULL,
  samples        integer NOT NULL,
  cpu_pct        real NOT NULL,
  mem_mib        bigint NOT NULL,
  disk_read_bps  bigint NOT NULL,
  disk_write_bps bigint NOT NULL,
  net_rx_bps     bigint NOT NULL,
  net_tx_bps     bigint NOT NULL,
  PRIMARY KEY (instance_id, at)
);
CREATE INDEX instance_metrics_1m_at ON instance_metrics_1m (at);

CREATE TABLE instance_metrics_10m (LIKE instance_metrics_1m INCLUDING ALL);

-- How far each rollup got: the end of the last bucket it computed. A leader that was away rolls
-- up from here (at most back to the source table's retention) instead of only the last bucket.
CREATE TABLE instance_metrics_rollups (
  resolution   text PRIMARY KEY CHECK (resolution IN ('1m', '10m')),
  rolled_until timestamptz NOT NULL
);
