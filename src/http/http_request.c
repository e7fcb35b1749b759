/* Request accessors and the JSON/data responses. */
#include "http/http_internal.h"

#include "core/util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *http_req_method(const struct http_request *r)
{
    return r->method;
}

const char *http_req_path(const struct http_request *r)
{
    return r->path;
}

const char *http_req_param(const struct http_request *r, const char *name)
{
    for (size_t i = 0; i < r->n_params; i++)
        if (strcmp(r->param_names[i], name) == 0)
            return r->param_values[i];
    return NULL;
}

const char *http_req_query(const struct http_request *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *http_req_header(const struct http_request *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *http_req_cookie(const struct http_request *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, name);
}

const char *http_req_body(const struct http_request *r, size_t *len)
{
    if (len)
        *len = r->body ? r->body_len : 0;
    return r->body;
}

const char *http_req_client_addr(const struct http_request *r)
{
    return r->client_addr;
}

bool http_req_is_loopback(const struct http_request *r)
{
    return r->loopback;
}

const struct http_principal *http_req_principal(const struct http_request *r)
{
    return &r->who;
}

bool http_req_may_see(const struct http_request *r, const char *camera)
{
    if (r->who.admin)
        return true;
    const struct cfg_user *u = r->who.user;
    if (!u || !camera)
        return false;
    if (u->n_cameras == 0)
        return true;
    for (size_t i = 0; i < u->n_cameras; i++)
        if (strcmp(u->cameras[i], camera) == 0)
            return true;
    return false;
}

int http_add_header(struct http_request *r, const char *name, const char *value)
{
    if (r->responded)
        return -EALREADY;
    /* Header injection: values come from our code, but never let CR/LF through. */
    if (strpbrk(name, "\r\n:") || strpbrk(value, "\r\n"))
        return -EINVAL;
    struct http_header *h = realloc(r->headers, (r->n_headers + 1) * sizeof(*h));
    if (!h)
        return -ENOMEM;
    r->headers = h;
    h[r->n_headers].name = strdup(name);
    h[r->n_headers].value = strdup(value);
    if (!h[r->n_headers].name || !h[r->n_headers].value) {
        free(h[r->n_headers].name);
        free(h[r->n_headers].value);
        return -ENOMEM;
    }
    r->n_headers++;
    return 0;
}

static bool has_header(const struct http_request *r, const char *name)
{
    for (size_t i = 0; i < r->n_headers; i++)
        if (strcasecmp(r->headers[i].name, name) == 0)
            return true;
    return false;
}

static int respond_text(struct http_request *r, unsigned status, const char *type, char *text,
                        size_t len)
{
    /* MHD frees `text` with free(). */
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(text);
        return -ENOMEM;
    }
    MHD_add_response_header(resp, "Content-Type", type);
    if (!has_header(r, "Cache-Control"))
        MHD_add_response_header(resp, "Cache-Control", "no-store");
    return http_respond_mhd(r, status, resp);
}

int http_respond_json(struct http_request *r, unsigned status, const cJSON *body)
{
    if (r->responded)
        return -EALREADY;
    char *text = cJSON_PrintUnformatted(body);
    if (!text)
        return -ENOMEM;
    return respond_text(r, status, "application/json", text, strlen(text));
}

void http_json_add_string_or_null(cJSON *o, const char *key, const char *v)
{
    if (v)
        cJSON_AddStringToObject(o, key, v);
    else
        cJSON_AddNullToObject(o, key);
}

/* {"success":false,"message":msg} as a JSON response. */
static struct MHD_Response *error_response(const char *msg)
{
    cJSON *o = cJSON_CreateObject();
    char *text = NULL;
    if (o && cJSON_AddFalseToObject(o, "success") && cJSON_AddStringToObject(o, "message", msg))
        text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!text)
        return NULL;
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(text);
        return NULL;
    }
    MHD_add_response_header(resp, "Content-Type", "application/json");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    return resp;
}

int http_respond_error(struct http_request *r, unsigned status, const char *fmt, ...)
{
    char raw[512], msg[1024];
    va_list ap;
    if (r->responded)
        return -EALREADY;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof(raw), fmt, ap);
    va_end(ap);
    /* ASCII only: a path echoed back cannot carry U+2028 or controls. */
    util_escape_text(raw, msg, sizeof(msg));
    return http_respond_mhd(r, status, error_response(msg));
}

int http_respond_data(struct http_request *r, unsigned status, const char *content_type,
                      const void *data, size_t len)
{
    if (r->responded)
        return -EALREADY;
    char *copy = malloc(len ? len : 1);
    if (!copy)
        return -ENOMEM;
    if (len)
        memcpy(copy, data, len);
    return respond_text(r, status, content_type, copy, len);
}
