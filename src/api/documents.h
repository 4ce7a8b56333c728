/* documents.h (api/) - the JSON of a document, shared by POST /api/v1/ingest (api/ingest, h-ingest) and
 * the document reads (api/documents.c), so both answer the same shape:
 * {"id","serviceId","serviceUserId" (null for an API key),"credentialId","filename","mediaType","size",
 *  "sha256","metadata" (the object as sent),"approverDepartment","createdAt"}. */
#ifndef KW_API_DOCUMENTS_H
#define KW_API_DOCUMENTS_H

#include <jansson.h>

#include "core/records.h"

/* A new reference (NULL when out of memory). */
json_t *kw_api_render_document(const struct kw_document *d);

#endif
