"""sf-update-harness: compare Salesforce update strategies with measured figures, then run one."""
