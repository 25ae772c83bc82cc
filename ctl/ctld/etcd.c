/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * etcd's v3 JSON gateway over libcurl: one easy handle (its connection
 * is reused between requests), every request bounded in connect and
 * total time, the URLs of [fleet] etcd tried in turn from the one that
 * last answered. Only the fleet worker thread calls these: a request may
 * take the whole timeout, which the daemon's loop must never wait for.
 * curl_global_init() is main.c's, before any thread starts.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "fleet.h"

#define ETCD_MAX_URLS 8
/* A range reply of SHOAL_MAX_POOL_SLICES slices and SHOAL_MAX_FLEET_HOSTS
 * hosts is ~1.5 MB of base64; more is not ours. */
#define ETCD_REPLY_MAX (8u << 20)

struct etcd {
	CURL *h;
	struct curl_slist *headers;
	char urls[ETCD_MAX_URLS][SH_CFG_STR_LEN];
	unsigned n_urls, cur;
	long timeout_ms;
	uint64_t requests;
	char *buf; /* the reply being received */
	size_t len, cap;
	bool too_big;
};

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
	struct etcd *e = arg;
	size_t add = size * n;

	if (e->len + add + 1 > ETCD_REPLY_MAX) {
		e->too_big = true;
		return 0; /* curl fails the transfer */
	}
	if (e->len + add + 1 > e->cap) {
		size_t cap = (e->len + add + 1) * 2;
		char *b = realloc(e->buf, cap);

		if (!b)
			return 0;
		e->buf = b;
		e->cap = cap;
	}
	memcpy(e->buf + e->len, p, add);
	e->len += add;
	e->buf[e->len] = '\0';
	return add;
}

int etcd_open(struct etcd **out, const char *urls, long timeout_ms)
{
	struct etcd *e = calloc(1, sizeof(*e));
	char buf[SH_CFG_STR_LEN], *item, *save = NULL;

	if (!e)
		return -ENOMEM;
	snprintf(buf, sizeof(buf), "%s", urls);
	for (item = strtok_r(buf, ",", &save); item && e->n_urls <
	     ETCD_MAX_URLS; item = strtok_r(NULL, ",", &save)) {
		item += strspn(item, " \t");
		item[strcspn(item, " \t")] = '\0';
		/* "http://h:p" or "http://h:p/": the paths start with '/' */
		if (*item && item[strlen(item) - 1] == '/')
			item[strlen(item) - 1] = '\0';
		if (*item)
			snprintf(e->urls[e->n_urls++], SH_CFG_STR_LEN, "%s",
				 item);
	}
	e->timeout_ms = timeout_ms;
	e->h = curl_easy_init();
	e->headers = curl_slist_append(NULL,
				       "Content-Type: application/json");
	if (!e->n_urls || !e->h || !e->headers) {
		int rc = e->n_urls ? -ENOMEM : -EINVAL;

		etcd_close(e);
		return rc;
	}
	curl_easy_setopt(e->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e->h, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
	curl_easy_setopt(e->h, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(e->h, CURLOPT_HTTPHEADER, e->headers);
	curl_easy_setopt(e->h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(e->h, CURLOPT_WRITEDATA, e);
	curl_easy_setopt(e->h, CURLOPT_PROTOCOLS_STR, "http,https");
	*out = e;
	return 0;
}

void etcd_close(struct etcd *e)
{
	if (!e)
		return;
	if (e->h)
		curl_easy_cleanup(e->h);
	curl_slist_free_all(e->headers);
	free(e->buf);
	free(e);
}

uint64_t etcd_requests(const struct etcd *e)
{
	return e->requests;
}

/* One POST of @body to URL @u + @path: the HTTP status (0: no answer,
 * with why in @msg); the body is in e->buf. */
static long post(struct etcd *e, const char *u, const char *path,
		 const char *body, char *msg, size_t len)
{
	char url[SH_CFG_STR_LEN + 64];
	long status = 0;
	CURLcode rc;

	snprintf(url, sizeof(url), "%s%s", u, path);
	e->len = 0;
	e->too_big = false;
	if (e->buf)
		e->buf[0] = '\0';
	curl_easy_setopt(e->h, CURLOPT_URL, url);
	curl_easy_setopt(e->h, CURLOPT_POSTFIELDS, body);
	e->requests++;
	rc = curl_easy_perform(e->h);
	if (rc != CURLE_OK) {
		snprintf(msg, len, "%s: %s", url, e->too_big ?
			 "reply too large" : curl_easy_strerror(rc));
		return 0;
	}
	curl_easy_getinfo(e->h, CURLINFO_RESPONSE_CODE, &status);
	return status;
}

int etcd_call(struct etcd *e, const char *path, json_t *req, json_t **reply,
	      char *msg, size_t len)
{
	char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
	json_error_t jerr;
	int rc = -EIO;

	json_decref(req);
	*reply = NULL;
	if (!body) {
		snprintf(msg, len, "out of memory");
		return -ENOMEM;
	}
	for (unsigned i = 0; i < e->n_urls; i++) {
		unsigned k = (e->cur + i) % e->n_urls;
		long status = post(e, e->urls[k], path, body, msg, len);
		json_t *r;

		if (status == 0 || status >= 500) {
			if (status)
				snprintf(msg, len, "%s%s: HTTP %ld", e->urls[k],
					 path, status);
			continue; /* this member cannot answer: the next */
		}
		e->cur = k;
		r = json_loadb(e->buf ? e->buf : "", e->len, 0, &jerr);
		if (!r) {
			snprintf(msg, len, "%s%s: HTTP %ld, not JSON",
				 e->urls[k], path, status);
			rc = -EPROTO;
		} else if (status != 200 || json_object_get(r, "error")) {
			const char *m = json_string_value(
				json_object_get(r, "error"));

			snprintf(msg, len, "%s%s: HTTP %ld: %s", e->urls[k],
				 path, status, m ? m : "error");
			json_decref(r);
			rc = -EPROTO;
		} else {
			*reply = r;
			rc = 0;
		}
		break;
	}
	free(body);
	return rc;
}
