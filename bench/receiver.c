/*
 * bench/receiver.c: the webhook receiver of bench/webhooks.sh. A small
 * HTTP/1.1 server on 127.0.0.1 that answers every request at once with
 * 200 (keep-alive), using as little CPU as it can, so that the benchmark
 * measures the extension rather than its receiver. For each request it
 * appends "webhook-id arrival-ms" to LOGFILE.
 *
 *   cc -O2 -o receiver bench/receiver.c && ./receiver PORT LOGFILE
 *
 * It prints "listening PORT" when ready. One thread, poll() over the
 * connections; requests must carry Content-Length (as deliveries do).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define MAX_CONN 64
#define BUF 65536

typedef struct Conn
{
	int			fd;
	size_t		len;
	char		buf[BUF];
} Conn;

static Conn conns[MAX_CONN];
static FILE *logf;

static const char answer[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok";

static long long
now_ms(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (long long) tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* A header's value in the head [buf, end), or NULL; its length in *len */
static const char *
header(const char *buf, const char *end, const char *name, size_t *len)
{
	size_t		n = strlen(name);
	const char *p = buf;

	while (p < end)
	{
		const char *eol = memchr(p, '\n', end - p);

		if (eol == NULL)
			break;
		if ((size_t) (eol - p) > n && strncasecmp(p, name, n) == 0 && p[n] == ':')
		{
			const char *v = p + n + 1;

			while (*v == ' ')
				v++;
			*len = eol - v;
			if (*len > 0 && v[*len - 1] == '\r')
				(*len)--;
			return v;
		}
		p = eol + 1;
	}
	return NULL;
}

/* Handle the complete requests in c's buffer; -1 to close it */
static int
serve(Conn *c)
{
	for (;;)
	{
		char	   *head_end = memmem(c->buf, c->len, "\r\n\r\n", 4);
		const char *v;
		size_t		vlen;
		size_t		body = 0;
		size_t		total;

		if (head_end == NULL)
			return c->len < BUF ? 0 : -1;
		v = header(c->buf, head_end + 2, "content-length", &vlen);
		if (v)
			body = strtoul(v, NULL, 10);
		total = (head_end + 4 - c->buf) + body;
		if (total > BUF)
			return -1;
		if (c->len < total)
			return 0;
		v = header(c->buf, head_end + 2, "webhook-id", &vlen);
		if (logf)
			fprintf(logf, "%.*s %lld\n", v ? (int) vlen : 1, v ? v : "-", now_ms());
		if (write(c->fd, answer, sizeof(answer) - 1) != (ssize_t) (sizeof(answer) - 1))
			return -1;
		memmove(c->buf, c->buf + total, c->len - total);
		c->len -= total;
	}
}

int
main(int argc, char **argv)
{
	struct sockaddr_in addr;
	struct pollfd pfd[MAX_CONN + 1];
	int			lfd;
	int			one = 1;
	socklen_t	alen = sizeof(addr);
	int			i;

	if (argc < 2)
	{
		fprintf(stderr, "usage: %s PORT [LOGFILE]\n", argv[0]);
		return 2;
	}
	if (argc > 2 && (logf = fopen(argv[2], "a")) == NULL)
	{
		perror(argv[2]);
		return 1;
	}
	if (logf)
		setvbuf(logf, NULL, _IOLBF, 0);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_port = htons(atoi(argv[1]));
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(lfd, (struct sockaddr *) &addr, sizeof(addr)) != 0 || listen(lfd, 64) != 0)
	{
		perror("listen");
		return 1;
	}
	getsockname(lfd, (struct sockaddr *) &addr, &alen);
	printf("listening %d\n", ntohs(addr.sin_port));
	fflush(stdout);
	for (i = 0; i < MAX_CONN; i++)
		conns[i].fd = -1;
	for (;;)
	{
		int			n = 0;
		int			map[MAX_CONN + 1];

		pfd[n].fd = lfd;
		pfd[n].events = POLLIN;
		map[n++] = -1;
		for (i = 0; i < MAX_CONN; i++)
			if (conns[i].fd >= 0)
			{
				pfd[n].fd = conns[i].fd;
				pfd[n].events = POLLIN;
				map[n++] = i;
			}
		if (poll(pfd, n, -1) < 0)
		{
			if (errno == EINTR)
				continue;
			perror("poll");
			return 1;
		}
		for (i = 1; i < n; i++)
		{
			Conn	   *c = &conns[map[i]];
			ssize_t		r;

			if (!(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			r = read(c->fd, c->buf + c->len, BUF - c->len);
			if (r <= 0 || (c->len += r, serve(c) < 0))
			{
				close(c->fd);
				c->fd = -1;
				c->len = 0;
			}
		}
		if (pfd[0].revents & POLLIN)
		{
			int			fd = accept(lfd, NULL, NULL);

			if (fd >= 0)
			{
				for (i = 0; i < MAX_CONN && conns[i].fd >= 0; i++)
					;
				if (i == MAX_CONN)
					close(fd);
				else
				{
					setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
					conns[i].fd = fd;
					conns[i].len = 0;
				}
			}
		}
	}
}
