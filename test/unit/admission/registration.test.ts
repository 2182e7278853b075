import { describe, expect, it } from 'vitest';
import { ownInvitationsCondition, renderWebhookConfigurations } from '../../../src/admission/registration.ts';

const base = { name: 'roster', target: { url: 'https://127.0.0.1:9443' }, failurePolicy: 'Fail' as const, timeoutSeconds: 5 };

describe('webhook registration', () => {
  it("leaves out the operator's own Invitation creates from the create/update webhooks only", () => {
    const { validating, mutating } = renderWebhookConfigurations({ ...base, operatorUsername: 'system:serviceaccount:roster-system:roster' });
    const condition = ownInvitationsCondition('system:serviceaccount:roster-system:roster');
    expect(validating.webhooks[0]?.matchConditions).toEqual([condition]);
    expect(mutating.webhooks[0]?.matchConditions).toEqual([condition]);
    // The deletions webhook records who deleted, the operator included.
    expect(validating.webhooks[1]?.matchConditions).toBeUndefined();
    expect(condition.expression).toContain("request.userInfo.username == 'system:serviceaccount:roster-system:roster'");
    expect(condition.expression).toContain("request.kind.kind == 'Invitation'");
    expect(condition.expression).toContain("request.operation == 'CREATE'");
  });

  it('without a known operator user name, every request goes through', () => {
    const { validating, mutating } = renderWebhookConfigurations(base);
    for (const hook of [...validating.webhooks, ...mutating.webhooks]) expect(hook.matchConditions).toBeUndefined();
  });

  it('quotes the user name as a CEL string, whatever it holds', () => {
    expect(ownInvitationsCondition("o'brien\\x").expression).toContain("request.userInfo.username == 'o\\'brien\\\\x'");
  });
});
