/* render.c - JSON shapes of services and keys (docs/api.md). Never renders a secret. */
#include <string.h>

#include "api/internal.h"
#include "core/timeutil.h"
#include "domain/keys.h"

static const char *const scope_names[] = {"metadata", "attributes", "attributes_pictures"};

static const struct {
    const char *name;
    uint32_t bit;
} perm_names[] = {
    {"candidates:read", KW_PERM_CANDIDATES_READ}, {"candidates:archive", KW_PERM_CANDIDATES_ARCHIVE},
    {"documents:write", KW_PERM_DOCUMENTS_WRITE}, {"documents:read", KW_PERM_DOCUMENTS_READ},
    {"keys:verify", KW_PERM_KEYS_VERIFY},
};

const char *kw_api_scope_name(int scope)
{
    if (scope < 0 || scope > KW_SCOPE_ATTRIBUTES_PICTURES)
        return "metadata";
    return scope_names[scope];
}

int kw_api_scope_parse(const char *s)
{
    int i;

    for (i = 0; i <= KW_SCOPE_ATTRIBUTES_PICTURES; i++) {
        if (strcmp(s, scope_names[i]) == 0)
            return i;
    }
    return -1;
}

int kw_api_perm_parse(const char *s, uint32_t *bit)
{
    size_t i;

    for (i = 0; i < sizeof(perm_names) / sizeof(perm_names[0]); i++) {
        if (strcmp(s, perm_names[i].name) == 0) {
            *bit = perm_names[i].bit;
            return 0;
        }
    }
    return -1;
}

json_t *kw_api_perms_json(uint32_t perms)
{
    json_t *a = json_array();
    size_t i;

    for (i = 0; a != NULL && i < sizeof(perm_names) / sizeof(perm_names[0]); i++) {
        if (perms & perm_names[i].bit)
            json_array_append_new(a, json_string(perm_names[i].name));
    }
    return a;
}

json_t *kw_api_time_json(int64_t ms)
{
    char buf[KW_TIME_RFC3339_LEN];

    if (ms == 0)
        return json_null();
    kw_time_format(ms, buf);
    return json_string(buf);
}

static json_t *str_or_null(const char *s)
{
    return s[0] ? json_string(s) : json_null();
}

json_t *kw_api_service_json(const struct kw_service *s)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:o, s:o}", "id", s->id, "name", s->name, "description",
                     s->description, "keyPrefix", s->key_prefix, "createdAt", kw_api_time_json(s->created_at),
                     "updatedAt", kw_api_time_json(s->updated_at));
}

json_t *kw_api_key_json(const struct kw_key *k, int64_t now_ms)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:s, s:b, s:o, s:s, s:o}", "id", k->id, "serviceId",
                          k->service_id, "description", k->description, "start", k->start, "scope",
                          kw_api_scope_name(k->scope), "permissions",
                          kw_api_perms_json(k->perms | KW_PERM_CANDIDATES_READ), "status",
                          kw_keys_status(k, now_ms), "enabled", k->enabled, "createdAt",
                          kw_api_time_json(k->created_at), "createdBy", k->created_by, "updatedAt",
                          kw_api_time_json(k->updated_at));
    if (o == NULL)
        return NULL;
    json_object_set_new(o, "lastUsedAt", kw_api_time_json(k->last_used_at));
    json_object_set_new(o, "lastUsedIp", str_or_null(k->last_used_ip));
    json_object_set_new(o, "expiresAt", kw_api_time_json(k->expires_at));
    json_object_set_new(o, "revokedAt", kw_api_time_json(k->revoked_at));
    json_object_set_new(o, "archiveAfterExtractSeconds",
                        k->archive_after_extract_s < 0 ? json_null() : json_integer(k->archive_after_extract_s));
    json_object_set_new(o, "rolledFrom", str_or_null(k->rolled_from));
    json_object_set_new(o, "requireEncryption", json_boolean(k->require_encryption));
    return o;
}
