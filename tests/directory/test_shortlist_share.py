"""Taking the shortlist away (issue 12, part 5): a QR code that reopens the list on a phone, on
the shortlist and its print view, and "send it to me" by email to an address kept nowhere."""

import html
import re
import smtplib
import xml.etree.ElementTree as ET

import pytest
import segno
from django.core import mail
from django.db import connection
from django.test import Client
from django_tasks_db.models import DBTaskResult

from directory import share, vocabularies
from directory.models import Phone, Service, Taxonomy, TaxonomyTerm
from referrals.models import OutgoingEmail
from tests.directory.conftest import make_service

pytestmark = pytest.mark.django_db

ADDRESS = "patient.person+list@example.org"
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def services(places):
    vocabularies.install(Taxonomy, TaxonomyTerm)
    walks = make_service("Hyde Health Walks", at="SK14 1PW", needs=["physical-activity"])
    Phone.objects.create(service=walks, number="0161 496 0001")
    money = make_service("Money Advice Hyde", at="SK14 1AA", needs=["money-debt"])
    gone = make_service("Old Lunch Club", at="SK14 1AA", status=Service.Status.DEFUNCT)
    return walks, money, gone


@pytest.fixture
def listed(client, services):
    walks, money, _ = services
    client.post("/shortlist/add/", {"service": [str(walks.pk), str(money.pk)]})
    return services


def share_url(response) -> str:
    found = re.search(r'id="share-link" type="text" value="([^"]+)"', response.content.decode())
    return html.unescape(found.group(1))


def drawn_matrix(svg: bytes) -> list[list[bool]]:
    """The dark modules an SVG from segno draws: its path is rows of horizontal runs
    (``M x y`` / ``m dx dy`` moves, ``h n`` runs of n dark modules), border included."""
    root = ET.fromstring(svg)
    path = root.find(f"{SVG}path")
    size = int(root.get("width")) // 4  # scale 4
    grid = [[False] * size for _ in range(size)]
    x = y = 0.0
    for op, a, b in re.findall(r"([MmHh])(-?[\d.]+)(?: (-?[\d.]+))?", path.get("d")):
        if op == "M":
            x, y = float(a), float(b)
        elif op == "m":
            x, y = x + float(a), y + float(b)
        else:
            run = float(a) if op == "h" else float(a) - x
            for column in range(int(x), int(x + run)):
                grid[int(y)][column] = True
            x += run
    return grid


def expected_matrix(url: str, border: int = 4) -> list[list[bool]]:
    code = segno.make(url, error="l", micro=False)
    inner = [[bool(cell) for cell in row] for row in code.matrix]
    size = len(inner) + 2 * border
    grid = [[False] * size for _ in range(size)]
    for r, row in enumerate(inner):
        for c, dark in enumerate(row):
            grid[r + border][c + border] = dark
    return grid


class QrCodeTests:
    def test_the_shortlist_shows_a_qr_code_of_its_share_link(self, client, listed):
        page = client.get("/shortlist/")
        body = page.content.decode()
        link = share_url(page)
        qr = re.search(r'<img class="qr__image" src="([^"]+)" alt="([^"]+)"', body)
        assert qr, "no QR code on the shortlist"
        assert qr.group(2) == "QR code of the link to this list"
        assert "Scan to open this list on your phone" in body
        svg = client.get(html.unescape(qr.group(1)))
        assert svg.status_code == 200
        assert svg["Content-Type"] == "image/svg+xml"
        root = ET.fromstring(svg.content)  # well-formed SVG
        assert root.tag == f"{SVG}svg"
        assert root.find(f"{SVG}title").text == "Scan to open this list on your phone"
        # The picture is the QR code of exactly that link (and not of another list's).
        assert drawn_matrix(svg.content) == expected_matrix(link)
        walks, money, _ = listed
        assert drawn_matrix(svg.content) != expected_matrix(link.replace(str(money.pk), ""))
        assert link == f"http://testserver/shortlist/?s={walks.pk}&s={money.pk}"

    def test_a_shared_list_and_the_print_view_carry_the_same_code(self, client, listed):
        walks, money, _ = listed
        shared = client.get(f"/shortlist/?s={money.pk}&s={walks.pk}")
        printed = client.get(f"/shortlist/print/?s={money.pk}&s={walks.pk}")
        src = f'src="/shortlist/qr.svg?s={money.pk}&amp;s={walks.pk}"'
        assert src in shared.content.decode()
        assert src in printed.content.decode()
        assert "Scan to open this list on your phone." in printed.content.decode()

    def test_an_empty_list_has_no_code(self, client, services):
        assert "qr__image" not in client.get("/shortlist/").content.decode()
        assert "qr__image" not in client.get("/shortlist/print/").content.decode()

    @pytest.mark.parametrize("query", ["", "?s=", "?s=not-an-id"])
    def test_a_code_of_no_list_is_refused(self, client, services, query):
        response = client.get("/shortlist/qr.svg" + query)
        assert response.status_code == 400
        assert "Give the services of the list" in response.content.decode()

    def test_it_only_answers_get(self, client, services):
        assert client.post("/shortlist/qr.svg?s=" + str(services[0].pk)).status_code == 405


def rows_containing(text: str) -> list[str]:
    """Every table of the database with a row whose text contains ``text``."""
    found = []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
        )
        for (table,) in cursor.fetchall():
            cursor.execute(
                f'SELECT count(*) FROM "{table}" AS t WHERE t::text ILIKE %s', [f"%{text}%"]
            )
            if cursor.fetchone()[0]:
                found.append(table)
    return found


class SendToMeTests:
    def test_it_emails_the_link_and_the_names_and_keeps_nothing(
        self, client, listed, caplog, capfd
    ):
        link = share_url(client.get("/shortlist/"))
        response = client.post("/shortlist/send/", {"email": f"  {ADDRESS} "}, follow=True)
        assert response.redirect_chain == [("/shortlist/", 302)]
        assert "We sent the list to the email address you gave" in response.content.decode()
        assert ADDRESS not in response.content.decode()
        assert len(mail.outbox) == 1
        sent = mail.outbox[0]
        assert sent.to == [ADDRESS]
        assert sent.subject == "Your list of services from Flourish"
        assert link in sent.body
        assert "1. Hyde Health Walks (Tameside Community Trust)" in sent.body
        assert "0161 496 0001" in sent.body
        assert "2. Money Advice Hyde" in sent.body
        assert "We did not keep your email address" in sent.body
        # Kept nowhere: no table, no outbox row, no task, no log line.
        assert OutgoingEmail.objects.count() == 0
        assert DBTaskResult.objects.count() == 0
        assert rows_containing("patient.person") == []
        assert "patient.person" not in caplog.text
        out, err = capfd.readouterr()
        assert "patient.person" not in out + err

    def test_a_shared_list_sends_that_list(self, client, services):
        walks, money, gone = services
        query = f"?s={money.pk}&s={gone.pk}"
        response = client.post("/shortlist/send/" + query, {"email": ADDRESS})
        assert response.status_code == 302
        assert response["Location"] == f"/shortlist/?s={money.pk}"
        body = mail.outbox[0].body
        assert f"http://testserver/shortlist/?s={money.pk}" in body
        assert "Money Advice Hyde" in body
        assert "Hyde Health Walks" not in body and "Old Lunch Club" not in body

    def test_the_form_is_on_the_shortlist_and_posts_the_shown_list(self, client, listed):
        walks, money, _ = listed
        mine = client.get("/shortlist/").content.decode()
        assert 'action="/shortlist/send/"' in mine
        assert 'type="email" id="send-email" name="email"' in mine
        assert '<label class="label" for="send-email">Your email address</label>' in mine
        shared = client.get(f"/shortlist/?s={money.pk}").content.decode()
        assert f'action="/shortlist/send/?s={money.pk}"' in shared

    @pytest.mark.parametrize(
        "address, message",
        [
            ("", "Enter your email address, like name@example.com."),
            ("   ", "Enter your email address, like name@example.com."),
            ("not-an-address", "Enter an email address in the right format"),
            ("a@b", "Enter an email address in the right format"),
            ("x@example.org\nBcc: y@example.org", "Enter an email address in the right format"),
            ("x" * 300 + "@example.org", "An email address is at most 254 characters long"),
        ],
    )
    def test_it_refuses_a_wrong_address_and_keeps_the_list(self, client, listed, address, message):
        response = client.post("/shortlist/send/", {"email": address})
        body = response.content.decode()
        assert response.status_code == 400
        assert message in body
        assert "There is a problem" in body and 'href="#send-email"' in body
        assert 'aria-invalid="true"' in body
        assert "Hyde Health Walks" in body and "Money Advice Hyde" in body
        assert mail.outbox == []

    def test_it_refuses_an_empty_list(self, client, services):
        response = client.post("/shortlist/send/", {"email": ADDRESS})
        assert response.status_code == 400
        assert "There is nothing on this list to send" in response.content.decode()
        assert mail.outbox == []

    def test_a_mail_server_that_refuses_is_a_clear_message_and_logs_no_address(
        self, client, listed, monkeypatch, caplog, capfd
    ):
        def refuse(self, messages):
            raise smtplib.SMTPRecipientsRefused(
                {ADDRESS: (550, b"no such user " + ADDRESS.encode())}
            )

        monkeypatch.setattr("django.core.mail.backends.locmem.EmailBackend.send_messages", refuse)
        response = client.post("/shortlist/send/", {"email": ADDRESS})
        assert response.status_code == 503
        assert "We could not send the email just now" in response.content.decode()
        assert "SMTPRecipientsRefused" in caplog.text
        assert "patient.person" not in caplog.text
        out, err = capfd.readouterr()
        assert "patient.person" not in out + err
        assert rows_containing("patient.person") == []

    def test_it_is_rate_limited_per_address(self, client, listed, monkeypatch):
        monkeypatch.setattr(share, "SEND_LIMIT", 2)
        for _ in range(2):
            assert client.post("/shortlist/send/", {"email": ADDRESS}).status_code == 302
        response = client.post("/shortlist/send/", {"email": ADDRESS})
        assert response.status_code == 429
        assert int(response["Retry-After"]) > 0
        assert "Too many emails have been sent from here" in response.content.decode()
        assert len(mail.outbox) == 2
        # Another address (another household) is not limited by this one.
        other = Client(REMOTE_ADDR="192.0.2.7")
        other.post("/shortlist/add/", {"service": str(listed[0].pk)})
        assert other.post("/shortlist/send/", {"email": ADDRESS}).status_code == 302

    def test_it_needs_the_pages_csrf_token(self, services):
        walks = services[0]
        browser = Client(enforce_csrf_checks=True)
        response = browser.post(f"/shortlist/send/?s={walks.pk}", {"email": ADDRESS})
        assert response.status_code == 403
        assert mail.outbox == []
        page = browser.get(f"/shortlist/?s={walks.pk}")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode())
        response = browser.post(
            f"/shortlist/send/?s={walks.pk}",
            {"email": ADDRESS, "csrfmiddlewaretoken": token.group(1)},
        )
        assert response.status_code == 302
        assert len(mail.outbox) == 1

    def test_it_only_answers_post(self, client, listed):
        assert client.get("/shortlist/send/").status_code == 405
