metadata description = 'Reader for the auditor identity on one subscription it audits. Deployed once per entry of auditSubscriptionIds.'

targetScope = 'subscription'

// ---------- Imports ----------

import { roleDefinitionIds } from 'roles.bicep'

// ---------- Parameters ----------

@description('Object (principal) ID of the auditor managed identity.')
param principalId string

// ---------- Resources ----------

resource reader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(subscription().id, principalId, roleDefinitionIds.Reader)
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleDefinitionIds.Reader)
  }
}

// ---------- Outputs ----------

@description('Resource ID of the Reader role assignment.')
output roleAssignmentId string = reader.id
