metadata description = 'Reader for the auditor identity at a management group, for audits of every subscription below it (AUDIT_MANAGEMENT_GROUP, or the tenant root group for a tenant-wide audit). Deploy it separately with az deployment mg create; it needs Owner or User Access Administrator at that management group.'

targetScope = 'managementGroup'

// ---------- Imports ----------

import { roleDefinitionIds } from '../modules/roles.bicep'

// ---------- Parameters ----------

@description('Object (principal) ID of the auditor managed identity (output AUDITOR_PRINCIPAL_ID of main.bicep).')
param principalId string

// ---------- Resources ----------

resource reader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(managementGroup().id, principalId, roleDefinitionIds.Reader)
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: tenantResourceId('Microsoft.Authorization/roleDefinitions', roleDefinitionIds.Reader)
  }
}

// ---------- Outputs ----------

@description('Resource ID of the Reader role assignment at the management group.')
output ROLE_ASSIGNMENT_ID string = reader.id
