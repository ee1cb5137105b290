/*
 * webhook/http.c
 *		What delivery needs of HTTP, apart from sending: the URLs a webhook
 *		may have, the addresses it may reach, its secret, the signature of
 *		the Standard Webhooks specification, and the retry schedule.
 *
 *		Addresses. A webhook's URL is set by a project's caller, who must not
 *		reach what the database server can reach and they cannot: the
 *		server's own services, the private network, a cloud's metadata
 *		address. So delivery refuses loopback, private, link-local,
 *		multicast, reserved and unspecified addresses, IPv4 and IPv6 (an IPv6
 *		address that embeds an IPv4 one is judged by that), unless the
 *		superuser setting participants.webhook_allowed_hosts names the host,
 *		the address or a range holding it. The check is made by the worker on
 *		the address it is about to connect to (worker.c, from libcurl's
 *		socket callback), after DNS resolution: a name that resolves to
 *		127.0.0.1 is refused like 127.0.0.1.
 */
#include "postgres.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <curl/curl.h>

#include "common/base64.h"
#include "common/hmac.h"
#include "common/sha2.h"
#include "port.h"
#include "utils/builtins.h"

#include "webhook/webhook.h"

const char *const pt_webhook_event_types[PT_WEBHOOK_EVENT_TYPES] = {
	"participant.status_changed", "person.opted_out", "consent.changed",
	"person_import.api.finished", "person.erased"
};

#define MAX_URL_LEN 2048

/*
 * The host of an absolute http or https URL, as libcurl (and so the
 * delivery worker) parses it; NULL when it is not such a URL
 */
char *
PtWebhookUrlHost(const char *url)
{
	CURLU	   *u = curl_url();
	char	   *scheme = NULL;
	char	   *host = NULL;
	char	   *result = NULL;

	if (u != NULL && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
		curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
		curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
		(strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0) && host[0] != '\0')
		result = pstrdup(host);
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return result;
}

/*
 * Check a webhook URL: an absolute http or https URL with a host, no longer
 * than MAX_URL_LEN, without spaces or control characters; 22023 naming key
 * otherwise
 */
void
PtCheckWebhookUrl(const char *url, const char *key)
{
	const char *c;
	const char *problem = NULL;

	if (strlen(url) > MAX_URL_LEN)
		problem = "is longer than 2048 characters";
	for (c = url; problem == NULL && *c; c++)
		if ((unsigned char) *c <= ' ' || *c == 0x7f)
			problem = "contains a space or a control character";
	if (problem == NULL && PtWebhookUrlHost(url) == NULL)
		problem = "is not an absolute http or https URL";
	if (problem)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for \"%s\": the URL %s", key, problem),
				 errdetail("The value was \"%s\".", url),
				 errhint("Give an absolute URL such as https://example.org/hooks/participants.")));
}

/* A new secret: whsec_ and the base64 of 24 random bytes */
char *
PtNewWebhookSecret(void)
{
	uint8		raw[24];
	char	   *s = palloc(6 + pg_b64_enc_len(sizeof(raw)) + 1);
	int			n;

	if (!pg_strong_random(raw, sizeof(raw)))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate a random secret")));
	memcpy(s, "whsec_", 6);
	n = pg_b64_encode((const char *) raw, sizeof(raw), s + 6, pg_b64_enc_len(sizeof(raw)));
	if (n < 0)
		elog(ERROR, "could not encode a secret");
	s[6 + n] = '\0';
	return s;
}

/*
 * The webhook-signature header's value: "v1," and the base64 of
 * HMAC-SHA256(the secret's bytes, msg_id "." timestamp "." body), as the
 * Standard Webhooks specification signs; NULL when the secret is not
 * whsec_ and base64. In the backend the HMAC is kept by the current
 * resource owner, which the caller provides.
 */
char *
PtWebhookSignature(const char *secret, const char *msg_id, int64 timestamp,
				   const char *body, int len)
{
	const char *b64 = strncmp(secret, "whsec_", 6) == 0 ? secret + 6 : secret;
	int			klen = pg_b64_dec_len(strlen(b64));
	char	   *key = palloc(klen + 1);
	char		ts[32];
	uint8		digest[PG_SHA256_DIGEST_LENGTH];
	pg_hmac_ctx *ctx;
	char	   *out;
	int			n;

	klen = pg_b64_decode(b64, strlen(b64), key, klen);
	if (klen <= 0)
		return NULL;
	snprintf(ts, sizeof(ts), INT64_FORMAT, timestamp);
	ctx = pg_hmac_create(PG_SHA256);
	if (ctx == NULL)
		elog(ERROR, "out of memory");
	if (pg_hmac_init(ctx, (uint8 *) key, klen) < 0 ||
		pg_hmac_update(ctx, (const uint8 *) msg_id, strlen(msg_id)) < 0 ||
		pg_hmac_update(ctx, (const uint8 *) ".", 1) < 0 ||
		pg_hmac_update(ctx, (const uint8 *) ts, strlen(ts)) < 0 ||
		pg_hmac_update(ctx, (const uint8 *) ".", 1) < 0 ||
		pg_hmac_update(ctx, (const uint8 *) body, len) < 0 ||
		pg_hmac_final(ctx, digest, sizeof(digest)) < 0)
	{
		pg_hmac_free(ctx);
		elog(ERROR, "could not compute a webhook signature");
	}
	pg_hmac_free(ctx);
	out = palloc(3 + pg_b64_enc_len(sizeof(digest)) + 1);
	memcpy(out, "v1,", 3);
	n = pg_b64_encode((const char *) digest, sizeof(digest), out + 3, pg_b64_enc_len(sizeof(digest)));
	out[3 + (n < 0 ? 0 : n)] = '\0';
	pfree(key);
	return out;
}

/* ------------------------------------------------------------------------
 * Addresses
 * ------------------------------------------------------------------------
 */

typedef struct Net
{
	int			family;			/* AF_INET or AF_INET6 */
	unsigned char addr[16];
	int			bits;
} Net;

/* An address, or an address/prefix range */
static bool
ParseNet(const char *s, Net *n)
{
	char		buf[INET6_ADDRSTRLEN + 8];
	char	   *slash;
	int			max;

	if (strlen(s) >= sizeof(buf))
		return false;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	if (inet_pton(AF_INET, buf, n->addr) == 1)
		n->family = AF_INET, max = 32;
	else if (inet_pton(AF_INET6, buf, n->addr) == 1)
		n->family = AF_INET6, max = 128;
	else
		return false;
	n->bits = max;
	if (slash)
	{
		char	   *end;
		long		b = strtol(slash + 1, &end, 10);

		if (slash[1] == '\0' || *end != '\0' || b < 0 || b > max)
			return false;
		n->bits = (int) b;
	}
	return true;
}

static bool
InNet(int family, const unsigned char *a, const Net *n)
{
	int			full = n->bits / 8;
	int			rest = n->bits % 8;

	if (family != n->family)
		return false;
	if (memcmp(a, n->addr, full) != 0)
		return false;
	if (rest)
	{
		unsigned char mask = (unsigned char) (0xff << (8 - rest));

		if ((a[full] & mask) != (n->addr[full] & mask))
			return false;
	}
	return true;
}

/* Why an IPv4 address may not be reached by default; NULL if it may */
static const char *
ClassifyV4(const unsigned char *a)
{
	if (a[0] == 0)
		return "unspecified";
	if (a[0] == 127)
		return "loopback";
	if (a[0] == 10 || (a[0] == 172 && (a[1] & 0xf0) == 16) || (a[0] == 192 && a[1] == 168))
		return "private";
	if (a[0] == 100 && (a[1] & 0xc0) == 64)
		return "private (shared address space)";
	if (a[0] == 169 && a[1] == 254)
		return "link-local";
	if (a[0] >= 224 && a[0] < 240)
		return "multicast";
	if (a[0] >= 240)
		return "reserved";
	/* IETF protocol assignments, benchmarking, documentation (TEST-NET-1..3) */
	if ((a[0] == 192 && a[1] == 0 && (a[2] == 0 || a[2] == 2)) || (a[0] == 198 && (a[1] & 0xfe) == 18) ||
		(a[0] == 198 && a[1] == 51 && a[2] == 100) || (a[0] == 203 && a[1] == 0 && a[2] == 113))
		return "reserved";
	return NULL;
}

static const char *
ClassifyV6(const unsigned char *a)
{
	static const unsigned char zero[16] = {0};
	static const unsigned char nat64[12] = {0, 0x64, 0xff, 0x9b};

	if (memcmp(a, zero, 16) == 0)
		return "unspecified";
	if (memcmp(a, zero, 15) == 0 && a[15] == 1)
		return "loopback";
	/* IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d), NAT64 */
	if ((memcmp(a, zero, 10) == 0 && a[10] == 0xff && a[11] == 0xff) ||
		memcmp(a, zero, 12) == 0 || memcmp(a, nat64, 12) == 0)
		return ClassifyV4(a + 12);
	if ((a[0] & 0xfe) == 0xfc)
		return "private (unique local)";
	if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
		return "link-local";
	if (a[0] == 0xfe && (a[1] & 0xc0) == 0xc0)
		return "private (site-local)";
	if (a[0] == 0xff)
		return "multicast";
	if (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0x0d && a[3] == 0xb8)
		return "reserved";		/* documentation, 2001:db8::/32 */
	return NULL;
}

/* Host names as the allowed list holds them: letters, digits, '.', '-', '_' */
static bool
IsHostName(const char *s)
{
	if (*s == '\0' || strlen(s) > 253)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char) *s) && *s != '.' && *s != '-' && *s != '_')
			return false;
	return true;
}

/* Call fn for each trimmed entry of a comma-separated list; stop when it returns true */
static bool
EachEntry(const char *list, bool (*fn) (const char *entry, void *arg), void *arg)
{
	const char *p = list ? list : "";

	while (*p)
	{
		const char *start;
		const char *end;
		char		entry[300];

		while (*p == ' ' || *p == ',' || *p == '\t')
			p++;
		start = p;
		while (*p && *p != ',')
			p++;
		end = p;
		while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		if (end == start)
			continue;
		if (end - start >= (long) sizeof(entry))
		{
			/* too long to be an address or a host name */
			memcpy(entry, start, sizeof(entry) - 1);
			entry[sizeof(entry) - 1] = '\0';
		}
		else
		{
			memcpy(entry, start, end - start);
			entry[end - start] = '\0';
		}
		if (fn(entry, arg))
			return true;
	}
	return false;
}

static bool
BadEntry(const char *entry, void *arg)
{
	Net			n;

	if (ParseNet(entry, &n) || IsHostName(entry))
		return false;
	*(const char **) arg = entry;
	return true;
}

/* The setting's check: every entry is a host name, an address or a range */
bool
PtCheckAllowedHosts(const char *list, char **problem)
{
	const char *bad = NULL;

	if (EachEntry(list, BadEntry, &bad))
	{
		*problem = psprintf("\"%s\" is not a host name, an IP address or a CIDR range", bad);
		return false;
	}
	return true;
}

typedef struct Match
{
	const char *host;
	int			family;
	const unsigned char *addr;
} Match;

static bool
EntryMatches(const char *entry, void *arg)
{
	Match	   *m = arg;
	Net			n;

	if (ParseNet(entry, &n))
	{
		if (InNet(m->family, m->addr, &n))
			return true;
		/* an IPv4-mapped IPv6 address matches IPv4 entries too */
		if (m->family == AF_INET6 && n.family == AF_INET &&
			memcmp(m->addr, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0 &&
			InNet(AF_INET, m->addr + 12, &n))
			return true;
		return false;
	}
	return m->host != NULL && pg_strcasecmp(entry, m->host) == 0;
}

/*
 * May delivery connect to this address, for a URL naming host? Yes when the
 * address is public, or the allowed list names the host, the address or a
 * range holding it; otherwise why is filled with the reason.
 */
bool
PtAddressAllowed(const struct sockaddr *sa, const char *host, const char *allowed,
				 char *why, size_t whylen)
{
	const unsigned char *a;
	const char *reason;
	char		text[INET6_ADDRSTRLEN];
	char		bare[260];
	Match		m;

	if (sa->sa_family == AF_INET)
	{
		a = (const unsigned char *) &((const struct sockaddr_in *) sa)->sin_addr;
		reason = ClassifyV4(a);
	}
	else if (sa->sa_family == AF_INET6)
	{
		a = (const unsigned char *) &((const struct sockaddr_in6 *) sa)->sin6_addr;
		reason = ClassifyV6(a);
	}
	else
	{
		snprintf(why, whylen, "refused: not an IP address");
		return false;
	}
	if (reason == NULL)
		return true;

	/* the URL's host without an IPv6 literal's brackets */
	bare[0] = '\0';
	if (host)
	{
		size_t		len = strlen(host);

		if (len >= 2 && host[0] == '[' && host[len - 1] == ']' && len - 2 < sizeof(bare))
		{
			memcpy(bare, host + 1, len - 2);
			bare[len - 2] = '\0';
		}
		else
			strlcpy(bare, host, sizeof(bare));
	}
	m.host = bare[0] ? bare : NULL;
	m.family = sa->sa_family;
	m.addr = a;
	if (EachEntry(allowed, EntryMatches, &m))
		return true;
	inet_ntop(sa->sa_family, a, text, sizeof(text));
	snprintf(why, whylen, "refused to connect to %s (%s): participants.webhook_allowed_hosts does not allow it",
			 text, reason);
	return false;
}

/*
 * Seconds until the next attempt after failed_attempts failures in a row:
 * 5 s, 30 s, 2 min, 10 min, 1 h, then doubling up to 8 h
 */
int
PtWebhookBackoffSeconds(int failed_attempts)
{
	static const int first[] = {5, 30, 120, 600, 3600};
	int			s = 3600;
	int			i;

	if (failed_attempts <= 0)
		return 0;
	if (failed_attempts <= (int) lengthof(first))
		return first[failed_attempts - 1];
	for (i = lengthof(first); i < failed_attempts && s < 8 * 3600; i++)
		s *= 2;
	return s;
}
