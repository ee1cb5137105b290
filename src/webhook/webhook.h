/*
 * webhook/webhook.h
 *		Webhooks: their functions and trigger (webhooks.c), the background
 *		workers that deliver events (worker.c), and what delivery needs of
 *		HTTP: URLs, addresses that may be reached, secrets and signatures
 *		(http.c).
 */
#ifndef PT_WEBHOOK_H
#define PT_WEBHOOK_H

#include "study/study.h"

#include <sys/socket.h>

/* worker.c: settings */
extern int	pt_webhook_workers;
extern int	pt_webhook_timeout;
extern int	pt_webhook_max_attempts;
extern char *pt_webhook_allowed_hosts;

/* worker.c */
extern bool pt_webhooks_preloaded;	/* the library was in shared_preload_libraries */
extern void PtWebhookInit(void);
extern void PtWebhookMark(bool webhooks_changed);
extern void PtWebhookEventWritten(void);

/* http.c */
#define PT_WEBHOOK_EVENT_TYPES 5
extern const char *const pt_webhook_event_types[PT_WEBHOOK_EVENT_TYPES];
extern char *PtWebhookUrlHost(const char *url);
extern void PtCheckWebhookUrl(const char *url, const char *key);
extern char *PtNewWebhookSecret(void);
extern char *PtWebhookSignature(const char *secret, const char *msg_id, int64 timestamp,
								const char *body, int len);
extern bool PtCheckAllowedHosts(const char *list, char **problem);
extern bool PtAddressAllowed(const struct sockaddr *sa, const char *host, const char *allowed,
							 char *why, size_t whylen);
extern int	PtWebhookBackoffSeconds(int failed_attempts);

#endif							/* PT_WEBHOOK_H */
