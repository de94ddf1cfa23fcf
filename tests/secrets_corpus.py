"""Fifty kinds of secrets, as they appear in data-science code: (kind, line of code, needle).

The needle is the part that must never be stored or exported. Values are made up; they have
the shape of the real thing (prefix, length, alphabet), which is what detectors look at.
"""

PEM_BODY = ("MIIEowIBAAKCAQEAx9kQ3n1b2ZlY0xq7Qw8sR2yV5cT4aP1mN6oL3jK8hG0fD2sA\n"
            "q9WvE3rT6yU1iO4pL7kJ0hG5fD8sA2zX6cV9bN3mQ1wE4rT7yU0iO3pL6kJ9hG2\n")
PEM = "-----BEGIN RSA PRIVATE KEY-----\n" + PEM_BODY + "-----END RSA PRIVATE KEY-----"
OPENSSH = ("-----BEGIN OPENSSH PRIVATE KEY-----\n"
           "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n"
           "QyNTUxOQAAACBzZWNyZXRzZWNyZXRzZWNyZXRzZWNyZXRzZWNyZXRzZWNyZXQAAAAA\n"
           "-----END OPENSSH PRIVATE KEY-----")

SECRETS: list[tuple[str, str, str]] = [
    ("aws-access-key-id", 'AWS_ACCESS_KEY_ID = "AKIAZ7QXJ3KLM4PQ2RST"', "AKIAZ7QXJ3KLM4PQ2RST"),
    ("aws-secret-key", 'aws_secret_access_key = "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"',
     "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzq8Lk3Tq9v"),
    ("aws-session-token", ('s3 = boto3.client("s3", aws_session_token="FwoGZXIvYXdzEJr//////////'
     'wEaDHh5Q2V3R3p6TmRzYiLLAQ")'), "FwoGZXIvYXdzEJr//////////wEaDHh5Q2V3R3p6TmRzYiLLAQ"),
    ("github-pat", 'gh = Github("ghp_R4nd0mT0k3nV4lu3F0rT3st1ngXyZ012345")',
     "ghp_R4nd0mT0k3nV4lu3F0rT3st1ngXyZ012345"),
    ("github-fine-grained", ('token = "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz'
     'ABCDEFGHIJKLMN0123456789"'), "github_pat_11ABCDEFG0123456789_abcdefghij"),
    ("gitlab-pat", 'gl = gitlab.Gitlab(url, private_token="glpat-Xy7zAbCdEfGhIjKlMnOp")',
     "glpat-Xy7zAbCdEfGhIjKlMnOp"),
    ("slack-bot-token", ('client = WebClient(token="xoxb-2837465019283-4738291028374-QwErTy'
     'UiOpAsDfGhJkLzXcVb")'), "xoxb-2837465019283-4738291028374-QwErTyUiOpAsDfGhJkLzXcVb"),
    ("slack-webhook", ('requests.post("https://hooks.slack.com/services/T0123ABCD/B0123ABCD/'
     'aBcDeFgHiJkLmNoPqRsTuVwX", json=msg)'), "T0123ABCD/B0123ABCD/aBcDeFgHiJkLmNoPqRsTuVwX"),
    ("discord-webhook", ('hook = "https://discord.com/api/webhooks/123456789012345678/'
     'AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcdEFGH"'), "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"),
    ("stripe-live-key", 'stripe.api_key = "sk_live_51HxYzAbCdEfGhIjKlMnOpQrSt"',
     "sk_live_51HxYzAbCdEfGhIjKlMnOpQrSt"),
    ("stripe-webhook-secret", 'endpoint_secret = "whsec_1a2B3c4D5e6F7g8H9i0JkLmNoPqRs"',
     "whsec_1a2B3c4D5e6F7g8H9i0JkLmNoPqRs"),
    ("openai-key", 'openai.api_key = "sk-proj-Ab12Cd34Ef56Gh78Ij90Kl12Mn34Op56Qr78St90"',
     "sk-proj-Ab12Cd34Ef56Gh78Ij90Kl12Mn34Op56Qr78St90"),
    ("openai-legacy-key", ('client = OpenAI(api_key="sk-4f9Xw2LmQ8rTz6NpV3bY1cKdT3BlbkFJ7hGs'
     'E5uJ0aWq9eRtYu")'), "sk-4f9Xw2LmQ8rTz6NpV3bY1cKdT3BlbkFJ7hGsE5uJ0aWq9eRtYu"),
    ("anthropic-key", ('anthropic.Anthropic(api_key="sk-ant-api03-Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Jh1'
     'Gf0EdCbA")'), "sk-ant-api03-Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Jh1Gf0EdCbA"),
    ("google-api-key", 'gmaps = googlemaps.Client(key="AIzaSyD3x4mpl3K3yV4lu3F0rT3st1ng12345")',
     "AIzaSyD3x4mpl3K3yV4lu3F0rT3st1ng12345"),
    ("google-oauth-token", ('headers = {"Authorization": "Bearer ya29.a0AfH6SMBxYz0123456789abcdef'
     'ghijklmnop"}'), "ya29.a0AfH6SMBxYz0123456789abcdefghijklmnop"),
    ("google-client-secret", 'CLIENT_SECRET = "GOCSPX-AbCdEfGhIjKlMnOpQrStUvWx"',
     "GOCSPX-AbCdEfGhIjKlMnOpQrStUvWx"),
    ("gcp-service-account", ('{"type": "service_account", "private_key_id": "3f9a8b7c6d5e4f3a2b1c0d'
     '9e8f7a6b5c4d3e2f1a"}'), "3f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a"),
    ("huggingface-token", 'login(token="hf_AbCdEfGhIjKlMnOpQrStUvWxYz01234567")',
     "hf_AbCdEfGhIjKlMnOpQrStUvWxYz01234567"),
    ("jwt", ('auth = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJkYXRhLXNjaWVudGlzdCJ9.'
     'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"'), "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
    ("npm-token", 'NPM_TOKEN = "npm_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"',
     "npm_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"),
    ("pypi-token", ('twine_password = "pypi-AgEIcHlwaS5vcmcCJGFiY2RlZmdoLWlqa2wtbW5vcC1xcnN0LXV2d3h5'
     'ejAxMjM0NTY3ODkwAAIqWzMsImFiYyJd"'), "pypi-AgEIcHlwaS5vcmcCJGFiY2RlZmdoLWlqa2wtbW5vcC1xcnN0"),
    ("sendgrid-key", ('sg = SendGridAPIClient("SG.aBcDeFgHiJkLmNoPqRsTuV.wXyZ0123456789aBcDeFgHiJkLm'
     'NoPqRsTuVwXyZ01234")'), "SG.aBcDeFgHiJkLmNoPqRsTuV.wXyZ0123456789aBcDeFgHiJkLm"),
    ("twilio-sid-and-key", ('Client("AC0123456789abcdef0123456789abcdef", "SK0123456789abcdef0123'
     '456789abcdef")'), "0123456789abcdef0123456789abcdef"),
    ("mailgun-key", 'auth=("api", "key-0123456789abcdefghijklmnopqrstuv")',
     "key-0123456789abcdefghijklmnopqrstuv"),
    ("mailchimp-key", 'MailchimpMarketing.Client({"api_key": "0123456789abcdef0123456789abcdef-us12"})',
     "0123456789abcdef0123456789abcdef-us12"),
    ("square-token", 'SQUARE_ACCESS_TOKEN = "sq0atp-AbCdEfGhIjKlMnOpQrStUv"',
     "sq0atp-AbCdEfGhIjKlMnOpQrStUv"),
    ("shopify-token", 'shop = Shop(token="shpat_0123456789abcdef0123456789abcdef")',
     "shpat_0123456789abcdef0123456789abcdef"),
    ("databricks-token", 'DATABRICKS_TOKEN = "dapi0123456789abcdef0123456789abcdef"',
     "dapi0123456789abcdef0123456789abcdef"),
    ("digitalocean-token", 'do = "dop_v1_' + "0123456789abcdef" * 4 + '"', "0123456789abcdef" * 4),
    ("telegram-bot-token", 'bot = Bot("1234567890:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0")',
     "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"),
    ("azure-storage-connection", ('conn = "DefaultEndpointsProtocol=https;AccountName=mlstore;'
     'AccountKey=Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZmdoaWprbG1ub3A=;EndpointSuffix=core.windows.net"'),
     "Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZmdoaWprbG1ub3A="),
    ("azure-sas-url", ('url = "https://mlstore.blob.core.windows.net/data/train.csv?sv=2021-08-06&'
     'sig=AbCdEfGhIjKlMnOpQrStUvWxYz0123456789%2BabcdEF%3D"'),
     "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"),
    ("postgres-url", ('engine = create_engine("postgresql://analyst:Pg_S3cr3t!2024@db.internal:5432/'
     'warehouse")'), "Pg_S3cr3t!2024"),
    ("mysql-url", 'pd.read_sql(q, "mysql+pymysql://root:MyS3cretPw0rd@10.0.0.5/sales")',
     "MyS3cretPw0rd"),
    ("mongodb-url", 'MongoClient("mongodb+srv://etl_user:M0ng0Passw0rd99@cluster0.abcde.mongodb.net/")',
     "M0ng0Passw0rd99"),
    ("redis-url", 'r = redis.from_url("redis://:R3d1sP4ss.word@cache:6379/0")', "R3d1sP4ss.word"),
    ("odbc-password", 'cnxn = pyodbc.connect("DRIVER={ODBC};SERVER=sql1;UID=sa;PWD=Odbc#Passw0rd7;")',
     "Odbc#Passw0rd7"),
    ("password-assignment", 'password = "correct-horse-battery-staple-42"',
     "correct-horse-battery-staple-42"),
    ("password-kwarg", 'conn = psycopg2.connect(host="db", user="ds", password="Hunter2Hunter2!")',
     "Hunter2Hunter2!"),
    ("secret-in-dict", 'config = {"client_secret": "c1i3nt-s3cr3t-v4lu3-0987"}',
     "c1i3nt-s3cr3t-v4lu3-0987"),
    ("env-export", "os.system('export WANDB_API_KEY=0123456789abcdef0123456789abcdef01234567')",
     "0123456789abcdef0123456789abcdef01234567"),
    ("cli-password-flag", 'subprocess.run(["mysqldump", "--password=Dump3rPa55", "sales"])',
     "Dump3rPa55"),
    ("netrc", 'NETRC = "machine api.example.com login analyst password N3trcPassw0rd"',
     "N3trcPassw0rd"),
    ("basic-auth-header", 'headers = {"Authorization": "Basic YW5hbHlzdDpTM2NyM3RQYXNzd29yZA=="}',
     "YW5hbHlzdDpTM2NyM3RQYXNzd29yZA=="),
    ("url-query-token", 'pd.read_csv("https://data.example.com/export.csv?api_key=q8W3e5R7t9Y1u2I4o6P")',
     "q8W3e5R7t9Y1u2I4o6P"),
    ("rsa-private-key", "KEY = '''" + PEM + "'''", "MIIEowIBAAKCAQEAx9kQ3n1b2ZlY0xq7Qw8sR2yV5cT4"),
    ("openssh-private-key", "SSH_KEY = '''" + OPENSSH + "'''",
     "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ"),
    ("email", 'send_report(to="maria.garcia@datalab-example.org")', "maria.garcia@datalab-example.org"),
    ("home-path", 'df = pd.read_parquet("/home/jdoe42/projects/churn/data.parquet")', "jdoe42"),
]

assert len(SECRETS) == 50, len(SECRETS)
assert len({kind for kind, _, _ in SECRETS}) == 50
