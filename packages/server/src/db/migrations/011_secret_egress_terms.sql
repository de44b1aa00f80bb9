-- The egress hosts a secret was set to be sent to (NULL: set for the guest to read). A version
-- whose manifest loosens them does not get the value until an admin sets it again.
ALTER TABLE install_secrets ADD COLUMN egress_hosts jsonb;
-- Values set before this column: bound by the installed version's terms.
UPDATE install_secrets s
   SET egress_hosts = setting.value -> 'egress'
  FROM installs i
  JOIN extension_versions v ON v.extension_id = i.extension_id AND v.version = i.version
 CROSS JOIN LATERAL jsonb_array_elements(
       CASE WHEN jsonb_typeof(v.manifest -> 'settings') = 'array' THEN v.manifest -> 'settings' ELSE '[]'::jsonb END
     ) AS setting(value)
 WHERE s.install_id = i.id
   AND setting.value ->> 'key' = s.key
   AND setting.value ->> 'secret' = 'true'
   AND jsonb_typeof(setting.value -> 'egress') = 'array'
   AND jsonb_array_length(setting.value -> 'egress') > 0;
