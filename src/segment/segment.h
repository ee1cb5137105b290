/*
 * segment/segment.h
 *		What the files of segment/ share: the rebuild of a dynamic segment's
 *		membership (rebuild.c), used by create_segment (segments.c) and the
 *		triggers (dynamic.c).
 */
#ifndef PT_SEGMENT_H
#define PT_SEGMENT_H

#include "utils/array.h"

#include "search/search.h"

extern void PtRebuildMembership(pg_uuid_t *project_id, pg_uuid_t *segment_id, Jsonb *filter_jb);
extern ArrayType *PtRebuildsInProgress(pg_uuid_t *project_id);
extern void PtAddRecheck(pg_uuid_t *project_id, pg_uuid_t *participant_id, ArrayType *segments);
extern void PtForgetRebuilds(pg_uuid_t *project_id, pg_uuid_t *segment_id);

#endif							/* PT_SEGMENT_H */
