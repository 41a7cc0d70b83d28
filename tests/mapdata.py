"""A small hand-built data map used by data-map tests."""

SMALL_MAP = """\
controllers:
  - key: acme-health
    name: Acme Health GmbH
    country: DE
    jurisdictions: [EU]
    sector: healthcare
    locale: de
    timezone: Europe/Berlin
    contract: {notify_within_hours: 24}
    contacts:
      - {role: dpo, name: Dana Privacy, email: dpo@acme-health.example, phone: "+49 30 5550 1234"}
    channels:
      email: [privacy@acme-health.example]
      webhook: {url: "https://hooks.acme-health.example/breachline"}
  - key: brightbank
    name: Bright Bank Ltd
    country: GB
    jurisdictions: [UK]
    sector: financial
    contract: {notify_within_business_days: 2, holiday_country: GB}
    channels:
      email: [security@brightbank.example]
  - key: northwind
    name: Northwind Cloud
    country: IE
    jurisdictions: [EU]
    sector: saas
systems:
  - {key: patient-portal, name: Patient portal, region: eu-central-1}
  - {key: billing, name: Billing, owner: Finance engineering, region: eu-west-1}
processing:
  - controller: acme-health
    system: patient-portal
    role: processor
    data_categories: [user.health_and_medical, user.contact.email]
    subject_categories: [patient]
    est_subjects: 12000
    est_records: 48000
  - controller: brightbank
    system: billing
    role: processor
    data_categories: [user.financial.bank_account, user.name]
    subject_categories: [customer]
    est_subjects: 5000
    est_records: 5000
  - controller: northwind
    system: billing
    role: controller
    data_categories: [user.contact.email]
    subject_categories: [customer]
    est_subjects: 300
    est_records: 300
"""
