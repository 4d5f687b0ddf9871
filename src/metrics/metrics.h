/* The VMM's metrics: vCPU exits by reason, API requests by endpoint and status, the API
 * server's connection counters, each device's counters (from its device process) and the
 * guest's uptime. Written as one JSON object per line to the metrics path (Firecracker's
 * shape: counters are deltas since the previous line) every 60 s and on FlushMetrics, and
 * served as Prometheus text (running totals) at GET /metrics. Main thread only. */
#ifndef AZOTE_METRICS_METRICS_H
#define AZOTE_METRICS_METRICS_H

#include <stddef.h>

struct vmm;
struct metrics;
struct http_server;

__attribute__((warn_unused_result)) int metrics_create(struct metrics **out, struct vmm *vmm);
void metrics_destroy(struct metrics *m);

/* Open the metrics file or FIFO (appending) and start the periodic flush. 0 or -errno. */
__attribute__((warn_unused_result)) int metrics_set_path(struct metrics *m, const char *path);
/* Write one line now. 0 or -errno. */
int metrics_flush(struct metrics *m);
/* Prometheus text exposition of every counter (malloc'd; *len set). NULL when out of memory. */
char *metrics_prometheus(struct metrics *m, size_t *len);

/* One API request answered with status, for endpoint ("machine_cfg") and method ("PUT"). */
void metrics_count_api(struct metrics *m, const char *method, const char *endpoint, int status);
/* The HTTP server whose counters to report (NULL: none). */
void metrics_set_http(struct metrics *m, struct http_server *http);
/* The guest started now (uptime counts from here). */
void metrics_vm_started(struct metrics *m);

#endif
