/*
 * project/project.h
 *		Projects: their settings and custom field definitions, cached per
 *		backend, the lock of their participant adds (projects.c), and their
 *		counters (counter.c).
 */
#ifndef PT_PROJECT_H
#define PT_PROJECT_H

#include "access/access.h"

typedef struct PtFieldDef
{
	char	   *name;
	PtFieldType type;
} PtFieldDef;

/* A project's settings and custom field definitions, cached per backend */
typedef struct PtProject
{
	pg_uuid_t	id;
	char	   *identifier_prefix;	/* never NULL */
	bool		link_identifiers;
	bool		strict_custom_fields;
	int			nfields;
	PtFieldDef *fields;
} PtProject;

/* projects.c */
extern PtProject *PtGetProject(pg_uuid_t *project_id);
extern void PtCheckProjectSettings(Jsonb *settings);
extern PtFieldType PtProjectFieldType(PtProject *project, const char *name);
extern void PtInitProjectCache(void);
extern void PtLockProjectWrites(pg_uuid_t *project_id, LOCKMODE mode);

/*
 * What a new project needs from parts built on projects (its status graph):
 * create_project calls every function registered here, in order
 */
typedef void (*PtProjectCreated) (pg_uuid_t *project_id);
extern void PtOnProjectCreated(PtProjectCreated fn);

/* counter.c: per-project counters */
typedef enum PtCounter
{
	PT_COUNTER_PARTICIPANT,		/* numbers of generated participantIdentifiers */
	PT_COUNTER_EVENT,			/* event ids */
	PT_COUNTER_MEMBERSHIP		/* ids of segment membership episodes */
} PtCounter;

extern int64 PtDrawNumbers(pg_uuid_t *project_id, PtCounter counter, int64 n, char **channel);

#endif							/* PT_PROJECT_H */
