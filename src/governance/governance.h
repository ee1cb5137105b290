/*
 * governance/governance.h
 *		Research governance (doc/governance.md): versioned consent with
 *		per-scope grants and withdrawals (consent.c) and the incentive
 *		ledger (incentives.c). The contact rules are part of a status change
 *		and live with the statuses (study/contact.c).
 */
#ifndef PT_GOVERNANCE_H
#define PT_GOVERNANCE_H

#include "access/access.h"
#include "project/project.h"
#include "study/study.h"

#endif							/* PT_GOVERNANCE_H */
