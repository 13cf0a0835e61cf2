metadata description = 'Data-plane roles of the auditor identity on its own resources: blob and table data on the storage account, metrics publishing on Application Insights. Nothing else.'

// ---------- Imports ----------

import { roleDefinitionIds } from 'roles.bicep'

// ---------- Parameters ----------

@description('Object (principal) ID of the auditor managed identity.')
param principalId string

@description('Name of the auditor storage account (in this resource group).')
param storageAccountName string

@description('Name of the Application Insights component (in this resource group).')
param applicationInsightsName string

// ---------- Existing resources ----------

resource storage 'Microsoft.Storage/storageAccounts@2026-09-01' existing = {
  name: storageAccountName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

// ---------- Resources ----------

// Functions host state (timer schedule monitor, singleton locks) and the Flex Consumption deployment package.
resource storageBlobDataOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, principalId, roleDefinitionIds['Storage Blob Data Owner'])
  scope: storage
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId(
      'Microsoft.Authorization/roleDefinitions',
      roleDefinitionIds['Storage Blob Data Owner']
    )
  }
}

// The audit tables (findings, runs, state).
resource storageTableDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, principalId, roleDefinitionIds['Storage Table Data Contributor'])
  scope: storage
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId(
      'Microsoft.Authorization/roleDefinitions',
      roleDefinitionIds['Storage Table Data Contributor']
    )
  }
}

// Entra ID authenticated telemetry ingestion (local auth is disabled on the component).
resource monitoringMetricsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(applicationInsights.id, principalId, roleDefinitionIds['Monitoring Metrics Publisher'])
  scope: applicationInsights
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId(
      'Microsoft.Authorization/roleDefinitions',
      roleDefinitionIds['Monitoring Metrics Publisher']
    )
  }
}

// ---------- Outputs ----------

@description('Resource IDs of the role assignments created.')
output roleAssignmentIds string[] = [
  storageBlobDataOwner.id
  storageTableDataContributor.id
  monitoringMetricsPublisher.id
]
