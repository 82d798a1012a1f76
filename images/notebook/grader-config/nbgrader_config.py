# nbgrader configuration of a course's grader only (first on JUPYTER_CONFIG_PATH there; see
# images/CONTRACT.md). Collect only submissions whose folder is owned by the uid the hub
# recorded for the student the folder names (jhlti_nbgrader.StrictCollect, which reads the
# uid map's path from the contract).
c = get_config()  # noqa: F821
c.ExchangeFactory.collect = "jhlti_nbgrader.StrictCollect"
# nbgrader's own owner check only warns, and warns for every honest submission here (the
# grader has no passwd entries for students' uids); the strict check replaces it.
c.ExchangeCollect.check_owner = False
