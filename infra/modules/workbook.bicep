metadata description = 'Azure Monitor workbook of the audit, loaded from infra/workbooks (the portal JSON export) with its Application Insights placeholder replaced by the deployed component.'

// ---------- Parameters ----------

@description('Azure region of the workbook.')
param location string

@description('Tags applied to the workbook.')
param tags { *: string }

@description('Name of the Application Insights component the workbook reads.')
param applicationInsightsName string

@description('Display name of the workbook in the portal.')
param displayName string = 'AKS to ACR pull audit'

// ---------- Variables ----------

@description('Literal token in the workbook JSON that stands for the Application Insights resource ID.')
var appInsightsPlaceholder = '__APP_INSIGHTS_RESOURCE_ID__'

// ---------- Existing resources ----------

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

// ---------- Resources ----------

resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  // Workbook names must be GUIDs; derived from the component so redeployments update the same workbook.
  name: guid(applicationInsights.id, 'aks-acr-audit-workbook')
  location: location
  tags: union(tags, { 'hidden-title': displayName })
  kind: 'shared'
  properties: {
    displayName: displayName
    category: 'workbook'
    sourceId: applicationInsights.id
    serializedData: replace(
      loadTextContent('../workbooks/aks-acr-audit.workbook.json'),
      appInsightsPlaceholder,
      applicationInsights.id
    )
  }
}

// ---------- Outputs ----------

@description('Resource ID of the workbook.')
output id string = workbook.id
