/* documents.c (api/) - the document routes: the shared renderer (api/documents.h), and GET
 * /api/v1/documents, GET /api/v1/documents/{documentId}, GET .../content and DELETE (docs/documents.md). */
#include "api/documents.h"

#include <stdio.h>
#include <string.h>

#include "api/internal.h"
#include "domain/documents.h"

json_t *kw_api_render_document(const struct kw_document *d)
{
    json_t *meta = json_loads(d->metadata, JSON_REJECT_DUPLICATES, NULL);

    if (meta == NULL || !json_is_object(meta)) {
        json_decref(meta);
        meta = json_object();
    }
    return json_pack("{s:s, s:s, s:o, s:s, s:s, s:s, s:I, s:s, s:o, s:s, s:o}", "id", d->id, "serviceId",
                     d->service_id, "serviceUserId",
                     d->service_user_id[0] != '\0' ? json_string(d->service_user_id) : json_null(), "credentialId",
                     d->credential_id, "filename", d->filename, "mediaType", d->media_type, "size",
                     (json_int_t)d->size, "sha256", d->sha256, "metadata", meta, "approverDepartment",
                     d->approver_department, "createdAt", kw_api_time_json(d->created_at));
}
